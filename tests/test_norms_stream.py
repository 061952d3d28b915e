"""Validation in one pass and bounded memory: what a big file costs is its bytes.

`b2.check` decodes and checks a file lot by lot and keeps the first anomalies it is asked to
keep; these tests hold it to what the whole-file reading says (field anomalies first, then
the first misplaced record, then the checks) and show that it does not hold the file's
decoded records.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import pytest

from noemie_sim.sim.domain.generate import generate
from noemie_sim.sim.norms import KINDS, arl, b2, kinds, noemie_550, noemie_ps, oc_answer
from noemie_sim.sim.norms.codec import FIXED_128, RecordStream, decode_records
from noemie_sim.sim.norms.errors import Anomaly, Findings

RECORD = 128


def many_lots(lots: int, per_lot: int = 60) -> bytes:
    """A valid B2 file of ``lots`` lots of ``per_lot`` invoices, every invoice number new."""
    generated = b2.parse(generate("b2", 5, per_lot))
    invoices = [inv for lot in generated.lots for inv in lot.invoices]
    first = generated.lots[0]
    return b2.build(
        replace(
            generated,
            lots=tuple(
                replace(
                    first,
                    number=k + 1,
                    invoices=tuple(
                        replace(invoices[i % len(invoices)], invoice_number=k * 1000 + i + 1)
                        for i in range(per_lot)
                    ),
                )
                for k in range(lots)
            ),
        )
    )


def wrong_key_in_every_lot(data: bytes) -> tuple[bytes, list[int]]:
    """The file with the NIR key of the first Type 2 of each lot changed; the records hit."""
    out = bytearray(data)
    hit = []
    for i in range(0, len(out), RECORD):
        if out[i : i + 2] == b"1 ":
            j = i + RECORD
            while out[j : j + 2] != b"2 ":
                j += RECORD
            out[j + 24 : j + 26] = b"%02d" % (int(out[j + 24 : j + 26]) % 97 + 1)
            hit.append(j // RECORD + 1)
    return bytes(out), hit


def test_anomalies_of_every_lot_are_found_in_file_order_and_the_listing_is_bounded() -> None:
    data, hit = wrong_key_in_every_lot(many_lots(5))
    assert b2.validate(many_lots(5)) == []
    every = b2.validate(data)
    assert [a.record for a in every] == hit and {a.field for a in every} == {"insured_nir_key"}
    bounded = b2.check(data, "FSE", limit=2)
    assert bounded.total == 5 and bounded.kept == every[:2] and bounded.readable
    assert KINDS["b2"].findings(data, 3).kept == every[:3]
    assert KINDS["decompte"].findings(data, 3).kept[0].field == "nature"


def test_field_anomalies_win_over_checks_and_a_framing_error_over_everything() -> None:
    data, _ = wrong_key_in_every_lot(many_lots(3))
    last_type2 = data.rindex(b"2 ", 0, len(data) - 3 * RECORD) // RECORD + 1
    start = (last_type2 - 1) * RECORD + 57  # invoice date, position 58
    broken = data[:start] + b"3102" + data[start + 4 :]  # 31 February
    found = b2.check(broken, "FSE")
    assert [a.message for a in found.kept] == ["not a calendar date"] and not found.readable
    assert found.kept[0].record == last_type2 and found.kept[0].field == "invoice_date"
    truncated = broken[:-5]
    found = b2.check(truncated, "FSE")
    assert [a.message for a in found.kept] == ["truncated record"] and found.total == 1


def test_a_misplaced_record_is_all_that_is_said_even_after_lots_were_checked() -> None:
    data, _ = wrong_key_in_every_lot(many_lots(3))
    records = [data[i : i + RECORD] for i in range(0, len(data), RECORD)]
    last_type5 = max(i for i, r in enumerate(records) if r.startswith(b"5 "))
    del records[last_type5]
    found = b2.check(b"".join(records), "FSE")
    assert found.total == 1 and found.kept[0].message == "unexpected record"
    assert "Type 5" in found.kept[0].expected


def test_check_holds_one_lot_not_the_file() -> None:
    """The peak memory of checking a file of 40 lots is a small part of what its decoded
    records cost (both measured here, on the same file)."""
    data = many_lots(40)
    tracemalloc.start()
    try:
        records = decode_records(data, FIXED_128, b2.LAYOUTS)
        whole, _ = tracemalloc.get_traced_memory()
        del records
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        assert b2.check(data, "FSE").total == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < (whole - base) / 5, (peak - base, whole - base)


def test_the_stream_decodes_what_the_whole_file_decoding_does() -> None:
    data = many_lots(2)
    stream = RecordStream(data, FIXED_128, b2.LAYOUTS)
    assert list(stream) == decode_records(data, FIXED_128, b2.LAYOUTS)
    assert stream.readable and stream.finish().total == 0
    skimmed = RecordStream(data, FIXED_128, b2.LAYOUTS)
    first = next(iter(skimmed))
    assert first.layout.code == "0 " and len(list(skimmed.codes())) == len(data) // RECORD - 1


def test_explain_counts_every_record_past_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds, "EXPLAIN_RECORDS", 7)
    data = many_lots(3)
    lines, found = kinds.explain(data, KINDS["b2"])
    total = len(data) // RECORD
    assert found.total == 0 and lines[1].startswith(f"{total} records")
    assert f"... {total - 7} more records not shown" in lines
    assert "3 × Type 8" in lines[-1] and "1 × Type 9" in lines[-1]
    assert sum(line.lstrip().startswith("#") for line in lines) == 7


def test_findings_keep_the_first_and_count_all() -> None:
    found = Findings(2)
    for n in range(5):
        found.add(Anomaly(f"a{n}"))
    assert found.total == 5 and [a.message for a in found.kept] == ["a0", "a1"]
    with pytest.raises(ValueError):
        Findings(-1)


def _with_wrong_values(name: str) -> bytes:
    """The kind's sample grown to several items, each with a value its checks refuse."""
    if name == "arl":
        ack = arl.parse(KINDS["arl"].sample())
        lot = next(x for x in ack.lots if x.anomalies)
        return arl.build(replace(ack, lots=tuple(
            replace(lot, lot_number=n, status="P") for n in range(1, 6)
        )))  # fmt: skip
    if name == "oc-answer":
        answer = oc_answer.parse(KINDS["oc-answer"].sample())
        reject = answer.rejects[0]
        wrong = replace(reject, insured_nir_key=reject.insured_nir_key % 97 + 1)
        return oc_answer.build(replace(answer, rejects=(wrong,) * 5, received_count=9))
    if name == "noemie-ps":
        ret = noemie_ps.parse(KINDS["noemie-ps"].sample())
        payee = ret.payees[0]
        day = payee.days[0]
        lots = tuple(
            replace(lot, invoices=tuple(
                replace(i, insured_nir_key=i.insured_nir_key % 97 + 1) for i in lot.invoices
            ))
            for lot in day.lots
        )  # fmt: skip
        return noemie_ps.build(replace(ret, payees=(replace(payee, days=(
            replace(day, lots=lots * 3),
        )),)))  # fmt: skip
    doc = noemie_550.parse(KINDS["noemie-550"].sample())
    employer = doc.employers[0]
    ij_day = employer.days[0]
    employees = tuple(
        replace(e, insured_nir_key=e.insured_nir_key % 97 + 1) for e in ij_day.employees
    )
    return noemie_550.build(replace(doc, employers=(replace(employer, days=(
        replace(ij_day, employees=employees * 4),
    )),)))  # fmt: skip


@pytest.mark.parametrize("name", ["arl", "oc-answer", "noemie-ps", "noemie-550"])
def test_every_kind_is_checked_in_one_pass_like_its_validate(name: str) -> None:
    """Each kind's bounded check keeps the first anomalies of what validate lists (validate
    is that check without a limit)."""
    kind = KINDS[name]
    data = _with_wrong_values(name)
    every = kind.validate(data)
    assert len(every) > 2, [a.describe() for a in every]
    bounded = kind.findings(data, 2)
    assert bounded.total == len(every) and bounded.kept == every[:2]


def test_an_arl_is_held_one_lot_at_a_time() -> None:
    """An ARL of 999 lots of 20 anomalies: checking it peaks at a small part of what its
    decoded records cost (tracemalloc, same test)."""
    ack = arl.parse(KINDS["arl"].sample())
    lot = next(x for x in ack.lots if x.anomalies)
    lots = tuple(
        replace(lot, lot_number=n, anomalies=lot.anomalies[:1] * 20) for n in range(1, 1000)
    )
    data = arl.build(replace(ack, lots=lots))
    tracemalloc.start()
    try:
        records = decode_records(data, arl.FRAMING, arl.LAYOUTS)
        whole, _ = tracemalloc.get_traced_memory()
        del records
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        found = arl.check(data, 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found.total == 0, found.kept
    assert peak - base < (whole - base) / 5, (peak - base, whole - base)
