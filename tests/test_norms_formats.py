"""Each format: its samples are valid, and each control detects what it is meant to detect.

Files are edited at documented positions, the way a person with a hex editor would break them,
and the anomaly must name the record, the field and its position.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from noemie_sim.sim.norms import (
    KINDS,
    FormatError,
    arl,
    b2,
    kinds,
    noemie_550,
    noemie_ps,
    oc_answer,
    samples,
)
from noemie_sim.sim.norms.errors import Anomaly

RECORD = 128


def edit(data: bytes, record: int, position: int, new: bytes) -> bytes:
    """``data`` with the bytes at 1-based ``position`` of 1-based 128-char ``record`` replaced."""
    start = (record - 1) * RECORD + position - 1
    return data[:start] + new + data[start + len(new) :]


def entity_span(data: bytes, index: int) -> tuple[int, int]:
    """Byte offsets of the 1-based entity ``index`` of a NOEMIE file."""
    start = 0
    for _ in range(index - 1):
        start = data.index(b"@", start) + 1
    return start, data.index(b"@", start)


def edit_entity(data: bytes, index: int, position: int, new: bytes) -> bytes:
    start, _ = entity_span(data, index)
    at = start + position - 1
    return data[:at] + new + data[at + len(new) :]


def only(anomalies: list[Anomaly]) -> Anomaly:
    assert len(anomalies) == 1, [a.describe() for a in anomalies]
    return anomalies[0]


@pytest.mark.parametrize("name", list(KINDS))
def test_every_sample_is_valid_detected_and_parses(name: str) -> None:
    kind = KINDS[name]
    data = kind.sample()
    assert kinds.detect(data) is kind
    assert kind.validate(data) == []
    kind.parse(data)
    lines, found = kinds.explain(data, kind)
    assert found.total == 0 and found.kept == []
    assert "cohérents" in lines[-1]


# -- B2 -------------------------------------------------------------------------------------


def test_b2_wrong_nir_key_is_named_at_type2_position_25() -> None:
    data = samples.b2_lot()
    assert data[2 * RECORD : 2 * RECORD + 2] == b"2 "
    good_key = data[2 * RECORD + 24 : 2 * RECORD + 26]
    bad = edit(data, 3, 25, b"01" if good_key != b"01" else b"02")
    a = only(b2.validate(bad))
    assert (a.record, a.record_type, a.field, a.position) == (3, "Type 2", "insured_nir_key", 25)
    assert a.expected == str(int(good_key)) and a.message == "NIR key is wrong"


def test_b2_broken_type5_total_is_named() -> None:
    data = samples.b2_lot()
    records = [data[i : i + RECORD] for i in range(0, len(data), RECORD)]
    index = next(i for i, r in enumerate(records, 1) if r.startswith(b"5 "))
    bad = edit(data, index, 58, b"00009999")
    found = b2.validate(bad)
    assert any(a.record == index and a.field == "total_fees" and a.position == 58 for a in found)


def test_b2_lot_and_file_trailers_count_and_total() -> None:
    data = samples.b2_lot()
    last = len(data) // RECORD
    bad = edit(data, last, 22, b"000000000001")  # file total billed
    a = only(b2.validate(bad))
    assert (a.record, a.field, a.message) == (last, "total_billed", "file trailer total is wrong")
    lot_end = next(
        i for i in range(1, last) if data[(i - 1) * RECORD : (i - 1) * RECORD + 2] == b"8 "
    )
    bad = edit(data, lot_end, 12, b"00009")
    assert only(b2.validate(bad)).field == "invoice_count"


def test_b2_sequence_lot_numbers_and_type5_counts_are_named_where_they_are_wrong() -> None:
    """Within a lot: a record's sequence number out of order, a record carrying another lot's
    number, a Type 5 naming another invoice or counting its lines wrong: each one anomaly, on
    its record and field (the lot's numbers are compared whole, then record by record)."""
    data = samples.b2_lot()
    codes = [data[i : i + 2] for i in range(0, len(data), RECORD)]
    line = codes.index(b"4 ") + 1
    end = codes.index(b"5 ") + 1
    a = only(b2.validate(edit(data, line, 6, b"%06d" % (line + 1))))
    assert (a.record, a.field, a.message, a.expected, a.found) == (
        line, "seq", "sequence number out of order", str(line), str(line + 1))  # fmt: skip
    a = only(b2.validate(edit(data, line, 3, b"777")))
    assert (a.record, a.field, a.message, a.found) == (
        line, "lot", "record carries another lot's number", "777")  # fmt: skip
    type5 = b2.LAYOUTS["5 "]
    for name, message in (("invoice_number", "Type 5 names another invoice"),
                          ("line_count", "Type 5 line count is wrong")):  # fmt: skip
        f = type5.field(name)
        a = only(b2.validate(edit(data, end, f.start, b"9" * f.length)))
        assert (a.record, a.field, a.message) == (end, name, message)


def test_b2_structure_error_names_expected_record() -> None:
    data = samples.b2_lot()
    without_type5 = b"".join(
        data[i : i + RECORD] for i in range(0, len(data), RECORD) if data[i : i + 2] != b"5 "
    )
    with pytest.raises(FormatError) as exc:
        b2.parse(without_type5)
    assert exc.value.anomaly.message == "unexpected record"
    assert "Type 5" in exc.value.anomaly.expected


def test_b2_duplicate_invoice_number_and_bad_ps_key() -> None:
    lot = b2.parse(samples.b2_lot())
    inv = lot.lots[0].invoices[0]
    dup = replace(lot, lots=(replace(lot.lots[0], invoices=(inv, inv)),))
    assert any(a.field == "invoice_number" for a in b2.validate(b2.build(dup)))
    bad_ps = replace(lot, lots=(replace(lot.lots[0], ps_number="991086266"),))
    found = b2.validate(b2.build(bad_ps))
    assert [a.field for a in found] == ["ps_number"]


def test_b2_accepts_crlf_between_records_and_rejects_mixed_line_ends() -> None:
    data = samples.b2_lot()
    records = [data[i : i + RECORD] for i in range(0, len(data), RECORD)]
    assert b2.parse(b"\r\n".join(records) + b"\r\n") == b2.parse(data)
    assert b2.parse(b"\n".join(records)) == b2.parse(data)
    mixed = b"\r\n".join(records[:3]) + b"\n" + b"\r\n".join(records[3:])
    with pytest.raises(FormatError, match="inconsistent line end"):
        b2.parse(mixed)


def test_b2_truncated_and_non_ascii_files_are_located() -> None:
    data = samples.b2_lot()
    with pytest.raises(FormatError) as exc:
        b2.parse(data[:-5])
    assert exc.value.anomaly.record == len(data) // RECORD
    bad = edit(data, 3, 60, "é".encode())
    with pytest.raises(FormatError) as exc:
        b2.parse(bad)
    assert (exc.value.anomaly.record, exc.value.anomaly.position) == (3, 60)


def test_decompte_must_name_its_receiving_oc() -> None:
    dec = b2.parse(samples.decompte())
    other = replace(dec, receiver="11111111")
    found = b2.validate(b2.build(other), "DEC")
    assert {a.field for a in found} == {"oc_field"}
    assert len(found) == sum(len(lot.invoices) for lot in dec.lots)


def test_file_nature_is_checked_against_the_kind() -> None:
    assert KINDS["decompte"].validate(samples.b2_lot())[0].field == "nature"


def test_amo_part_cannot_exceed_fee() -> None:
    lot = b2.parse(samples.b2_lot())
    inv = lot.lots[0].invoices[0]
    act = inv.lines[0]
    assert isinstance(act, b2.ProfessionalAct)
    greedy = replace(inv, lines=(replace(act, amo_amount=act.fee_amount + 1),))
    with pytest.raises(FormatError) as exc:  # building refuses it: negative patient share
        b2.build(replace(lot, lots=(replace(lot.lots[0], invoices=(greedy,)),)))
    assert exc.value.anomaly.field == "total_patient_share"
    data = samples.b2_lot()
    assert data[4 * RECORD : 4 * RECORD + 2] == b"4 "
    received = edit(data, 5, 108, b"0003001")  # a received file claiming 30.01 € AMO of 30 €
    assert "amo_amount" in {a.field for a in b2.validate(received) if a.record == 5}
    # nor the rate of the base: 21.02 € of a 30 € base at 70 % (21 €, to the cent above)
    greedy_rate = edit(data, 5, 108, b"0002102")
    assert [a.message for a in b2.validate(greedy_rate) if a.field == "amo_amount"] == [
        "AMO part exceeds the rate of the base"
    ]
    assert [a for a in b2.validate(edit(data, 5, 108, b"0002100")) if a.record == 5] == []


def _with_biology(analyses: int, act_code: str = "B") -> bytes:
    """The sample B2 file whose first invoice's act is a biology act listing ``analyses``
    NABM analyses (Type 4B records of five)."""
    lot = b2.parse(samples.b2_lot())
    inv = lot.lots[0].invoices[0]
    act = inv.lines[0]
    assert isinstance(act, b2.ProfessionalAct)
    listed = tuple(b2.NabmAnalysis(act.care_date, f"{1100 + k:08d}") for k in range(analyses))
    biology = replace(act, act_code=act_code, biology=listed)
    first = replace(lot.lots[0], invoices=(replace(inv, lines=(biology,)),
                                           *lot.lots[0].invoices[1:]))  # fmt: skip
    return b2.build(replace(lot, lots=(first, *lot.lots[1:])))


def test_b2_biology_analyses_in_type_4b_records() -> None:
    """A B act's NABM analyses travel in Type 4B records after it, five to a record (the
    positions of norms.md §2.2), and come back as they went; a 4B after another act, an entry
    half filled, or a blank entry before a filled one is named."""
    data = _with_biology(7)
    assert b2.validate(data) == []
    assert [data[k : k + 2] for k in range(5 * RECORD, 7 * RECORD, RECORD)] == [b"4B", b"4B"]
    act = b2.parse(data).lots[0].invoices[0].lines[0]
    assert isinstance(act, b2.ProfessionalAct)
    assert [a.code for a in act.biology] == [f"{1100 + k:08d}" for k in range(7)]
    assert data[5 * RECORD + 56 : 5 * RECORD + 64] == b"00001100"  # position 57, entry 1
    found = b2.validate(_with_biology(2, act_code="AMI"))
    assert [(a.record_type, a.message) for a in found] == [
        ("Type 4B", "NABM analyses detail a biology act (B) only")
    ]
    bad = edit(_with_biology(2), 6, 73, b" " * 8)  # entry 2 loses its code
    assert [a.field for a in b2.validate(bad)] == ["nabm_2"]
    gap = edit(edit(edit(_with_biology(3), 6, 73, b" " * 8), 6, 71, b"  "), 6, 65, b" " * 6)
    assert [a.message for a in b2.validate(gap)] == ["NABM entries are filled in order"]


# -- NOEMIE ---------------------------------------------------------------------------------


def test_noemie_broken_990_total_is_named() -> None:
    data = samples.noemie_ps_return()
    entities = data.split(b"@")[:-1]
    index = next(i for i, e in enumerate(entities, 1) if e.startswith(b"99005"))
    bad = edit_entity(data, index, 31, b"00000009999")
    found = noemie_ps.validate(bad)
    a = next(a for a in found if a.record == index)
    assert (a.record_type, a.field, a.position) == ("NOP-CTL", "amount_1", 31)
    assert "990 total" in a.message


def test_noemie_990_entity_count_and_999_count() -> None:
    data = samples.noemie_550_sample()
    entities = data.split(b"@")[:-1]
    index = next(i for i, e in enumerate(entities, 1) if e.startswith(b"99002"))
    assert (
        only(noemie_550.validate(edit_entity(data, index, 6, b"0000001"))).field == "entity_count"
    )
    last = len(entities)
    assert (
        only(noemie_550.validate(edit_entity(data, last, 36, b"00000001"))).field == "entity_count"
    )


def test_noemie_990_closing_the_wrong_level_is_a_structure_error() -> None:
    data = samples.noemie_ps_return()
    entities = data.split(b"@")[:-1]
    index = next(i for i, e in enumerate(entities, 1) if e.startswith(b"99005"))
    with pytest.raises(FormatError) as exc:
        noemie_ps.parse(edit_entity(data, index, 4, b"04"))
    assert exc.value.anomaly.field == "level"


def test_noemie_misplaced_entity_names_what_was_expected() -> None:
    data = samples.noemie_ps_return()
    entities = data.split(b"@")[:-1]
    without_patient = b"".join(e + b"@" for e in entities if not e.startswith(b"12006"))
    with pytest.raises(FormatError) as exc:
        noemie_ps.parse(without_patient)
    a = exc.value.anomaly
    assert "120 NOP-MAL" in a.expected and "150 NOP-ASU" in a.found


def test_noemie_ps_payment_must_match_amounts_paid() -> None:
    ret = noemie_ps.parse(samples.noemie_ps_return())
    day = ret.payees[0].days[0]
    short = replace(day, payments=(replace(day.payments[0], amount=1),))
    doc = replace(ret, payees=(replace(ret.payees[0], days=(short,)),))
    a = only(noemie_ps.validate(noemie_ps.build(doc)))
    assert a.field == "amount" and "payments" in a.message


def test_noemie_ps_rejected_invoice_status_consistency() -> None:
    ret = noemie_ps.parse(samples.noemie_ps_return())
    lots = ret.payees[0].days[0].lots
    rejected = lots[1].invoices[0]
    not_rejected = replace(rejected, status="P")
    day = replace(ret.payees[0].days[0], lots=(lots[0], replace(lots[1], invoices=(not_rejected,))))
    doc = replace(ret, payees=(replace(ret.payees[0], days=(day,)),))
    assert only(noemie_ps.validate(noemie_ps.build(doc))).field == "status"


def test_noemie_550_ij_arithmetic_and_siret_key() -> None:
    doc = noemie_550.parse(samples.noemie_550_sample())
    period = doc.employers[0].days[0].employees[0].coverages[0].leaves[0].periods[0]
    assert period.gross_amount == period.days * period.daily_amount
    data = samples.noemie_550_sample()
    entities = data.split(b"@")[:-1]
    index = next(i for i, e in enumerate(entities, 1) if e.startswith(b"23099"))
    # daily amount 40.00 -> 41.00 while the gross stays 11 x 40.00
    found = noemie_550.validate(edit_entity(data, index, 30, b"0004100"))
    assert [a.field for a in found] == ["gross_amount"]
    bad_siret = replace(
        doc, employers=(replace(doc.employers[0], employer_siret="86379402000836"),)
    )
    found = noemie_550.validate(noemie_550.build(bad_siret))
    assert [a.field for a in found] == ["employer_siret"]


def test_noemie_header_and_trailer_must_agree() -> None:
    data = samples.noemie_550_sample()
    entities = data.split(b"@")[:-1]
    bad = edit_entity(data, len(entities), 6, b"017510001")
    assert only(noemie_550.validate(bad)).field == "sender"


def test_noemie_entity_without_delimiter_and_wrong_length() -> None:
    data = samples.noemie_ps_return()
    with pytest.raises(FormatError, match="not terminated"):
        noemie_ps.parse(data + b"999")
    _start, end = entity_span(data, 3)
    with pytest.raises(FormatError) as exc:
        noemie_ps.parse(data[:end] + b"X" + data[end:])
    assert exc.value.anomaly.record == 3 and exc.value.anomaly.message == "wrong record length"


def test_detection_by_reference_and_nature() -> None:
    data = samples.noemie_550_sample()
    assert kinds.detect(data).name == "noemie-550"
    with pytest.raises(FormatError) as exc:
        kinds.detect(data[:61] + b"999" + data[64:])
    assert exc.value.anomaly.field == "reference"
    with pytest.raises(FormatError, match="not a file of the network"):
        kinds.detect(b"%PDF-1.7")


# -- ARL and OC answers ---------------------------------------------------------------------


def test_arl_status_is_derived_and_checked() -> None:
    neg = arl.parse(samples.arl_negative())
    assert neg.status == "N" and not neg.positive
    assert arl.parse(samples.arl_positive()).positive
    dup = replace(neg, lots=tuple(replace(lot, status="D", anomalies=()) for lot in neg.lots))
    assert arl.parse(arl.build(dup)).status == "D"
    data = samples.arl_negative()
    a = only(arl.validate(edit(data, 1, 40, b"P")))
    assert (a.field, a.expected) == ("status", "N")


def test_arl_negative_lot_needs_anomalies() -> None:
    pos = arl.parse(samples.arl_positive())
    lying = replace(pos, lots=(replace(pos.lots[0], status="N"), pos.lots[1]))
    found = arl.validate(arl.build(lying))
    assert {a.field for a in found} == {"status"}


def test_oc_answer_refusal_and_counts() -> None:
    ans = oc_answer.parse(samples.oc_answer_sample())
    assert [r.code for r in ans.rejects] == ["BI01"]
    refused = replace(ans, status="R", refusal_code="FN01", rejects=())
    assert oc_answer.validate(oc_answer.build(refused)) == []
    no_code = replace(refused, refusal_code=None)
    assert only(oc_answer.validate(oc_answer.build(no_code))).field == "refusal_code"
    too_many = replace(ans, received_count=0)
    assert only(oc_answer.validate(oc_answer.build(too_many))).field == "received_count"


def test_values_that_do_not_fit_are_refused_when_building() -> None:
    ans = oc_answer.parse(samples.oc_answer_sample())
    with pytest.raises(FormatError) as exc:
        oc_answer.build(replace(ans, rejects=(replace(ans.rejects[0], label="X" * 61),)))
    assert exc.value.anomaly.field == "label"
    with pytest.raises(FormatError, match="cannot be encoded"):
        oc_answer.build(replace(ans, rejects=(replace(ans.rejects[0], label="a@b"),)))
    with pytest.raises(FormatError, match="cannot be encoded"):
        oc_answer.build(replace(ans, received_count=-1))


def test_two_digit_years_follow_the_field_pivot() -> None:
    inv = b2.parse(samples.b2_lot()).lots[0].invoices[0]
    assert inv.birth_date == date(1985, 5, 12)
    assert inv.invoice_date == date(2026, 3, 2)


def _sanctioned(rate: int, daily_amount: int | None = None, qualifier: str = "S") -> bytes:
    """The 550 sample with its first IJ period sanctioned at ``rate`` tens of %, amounts
    recomputed from ``daily_amount`` (the sample's, unreduced, when None)."""
    doc = noemie_550.parse(samples.noemie_550_sample())
    employer = doc.employers[0]
    day = employer.days[0]
    employee = day.employees[0]
    coverage = employee.coverages[0]
    leave = coverage.leaves[0]
    period = leave.periods[0]
    daily = period.daily_amount if daily_amount is None else daily_amount
    gross = daily * period.days
    csg = period.csg_crds
    new = replace(period, qualifier=qualifier, sanction_rate=rate, daily_amount=daily,
                  gross_amount=gross, net_amount=gross - csg)  # fmt: skip
    leave = replace(leave, periods=(new, *leave.periods[1:]))
    coverage = replace(coverage, leaves=(leave, *coverage.leaves[1:]))
    employee = replace(employee, coverages=(coverage, *employee.coverages[1:]))
    day = replace(day, employees=(employee, *day.employees[1:]))
    employer = replace(employer, days=(day, *employer.days[1:]))
    return noemie_550.build(replace(doc, employers=(employer, *doc.employers[1:])))


def test_a_550_sanction_must_reduce_the_ij() -> None:
    """seeds/004 names the sanction rate of an IJ period (late justificatifs...); its effect is
    a convention (docs/norms.md): the daily IJ reduced by the rate. A "sanction 50 %" line
    with the unreduced amount is refused; the reduced one is valid; a rate without the
    qualifier S, or S without a rate, is refused."""
    period = noemie_550.parse(samples.noemie_550_sample()).employers[0].days[0].employees[0]
    daily_base = period.coverages[0].leaves[0].periods[0].daily_base
    unreduced = _sanctioned(5)
    assert [(a.field, a.message) for a in noemie_550.validate(unreduced)] == [
        ("daily_amount", "a period sanctioned at 50 % pays the IJ unreduced")
    ]
    assert noemie_550.validate(_sanctioned(5, daily_base * 5 // 20)) == []
    assert [a.field for a in noemie_550.validate(_sanctioned(3, qualifier="N"))] == [
        "sanction_rate"
    ]
    assert [a.field for a in noemie_550.validate(_sanctioned(0))] == ["sanction_rate"]


def test_b2_nature_d_assurance_is_the_rsf_list() -> None:
    """RSF-ACE 2023 Type 2 position 77 accepts 10, 13, 30, 41, 90 (norms.md §2.2): 40 is an
    SNDS nature (§7.6) that B2 does not carry."""
    data = samples.b2_lot()
    assert data[2 * RECORD : 2 * RECORD + 2] == b"2 "
    a = only(b2.validate(edit(data, 3, 77, b"40")))
    assert (a.field, a.message) == ("insurance_nature", "value not allowed")
    assert b2.validate(edit(data, 3, 77, b"41")) == []
