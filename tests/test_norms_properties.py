"""Properties of every format: round trip, and the one-error contract under fuzzing.

Fuzz: for each parser, 10 000 inputs in CI's large pass, 2 000 in the default profile (random
bytes, and valid files after random edits) must either parse or raise FormatError, and
validation must return anomalies without raising.
Round trip: build -> bytes -> parse -> build gives identical bytes and an equal object.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noemie_sim.sim.norms import KINDS, FormatError, b2, kinds, noemie_550, noemie_oc, noemie_ps
from noemie_sim.sim.norms.codec import MAX_FILE_BYTES, Field, Kind, Record

from .fuzz import examples
from .strategies import ROUND_TRIPS, mutated

FUZZ_EXAMPLES = examples(10_000)  # per parser: 10 000 in CI's large pass, 2 000 by default
ROUND_TRIP_EXAMPLES = max(30, examples(100))


def _contract(kind: kinds.FileKind, data: bytes, *, explain: bool = False) -> None:
    """The h11-style invariant: parse returns or raises FormatError, validate never raises,
    detection returns a kind or raises FormatError, explain never raises."""
    try:
        kind.parse(data)
    except FormatError as exc:
        assert exc.anomaly.message
    anomalies = kind.validate(data)
    assert isinstance(anomalies, list)
    with contextlib.suppress(FormatError):
        kinds.detect(data)
    if explain:
        kinds.explain(data, kind)


@pytest.mark.parametrize("name", list(KINDS))
def test_fuzz_parser_raises_only_format_error(name: str) -> None:
    kind = KINDS[name]
    sample = kind.sample()
    others = [k.sample() for k in KINDS.values() if k is not kind]
    inputs = st.one_of(
        st.binary(max_size=600),
        mutated(sample),
        st.sampled_from(others).flatmap(mutated),
    )

    @settings(max_examples=FUZZ_EXAMPLES)
    @given(inputs)
    def run(data: bytes) -> None:
        _contract(kind, data)

    run()


@pytest.mark.parametrize("name", list(KINDS))
def test_oversized_input_refused_before_parsing(name: str) -> None:
    kind = KINDS[name]
    data = kind.sample() * (MAX_FILE_BYTES // len(kind.sample()) + 1)
    with pytest.raises(FormatError, match="file too large"):
        kind.parse(data)
    [anomaly] = kind.validate(data)
    assert anomaly.message == "file too large"


@pytest.mark.parametrize("name", list(KINDS))
def test_fuzz_explain_never_raises(name: str) -> None:
    kind = KINDS[name]

    @settings(max_examples=FUZZ_EXAMPLES // 20)
    @given(mutated(kind.sample()))
    def run(data: bytes) -> None:
        _contract(kind, data, explain=True)

    run()


#: Fields that build computes; a generated file may break content rules (statuses, keys,
#: arithmetic inside a line) but never one of these controls.
COMPUTED = (
    "total_",
    "record_count",
    "invoice_count",
    "lot_count",
    "entity_count",
    "amount_1",
    "amount_2",
    "line_count",
    "anomaly_count",
    "rejected_count",
    "seq",
)


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_round_trip_and_computed_controls(name: str) -> None:
    strategy, build, parse = ROUND_TRIPS[name]
    kind = KINDS[name]

    @settings(max_examples=ROUND_TRIP_EXAMPLES)
    @given(strategy)
    def run(obj: Any) -> None:
        data = build(obj)
        parsed = parse(data)
        assert build(parsed) == data
        assert parsed == obj
        for anomaly in kind.validate(data):
            assert not anomaly.field.startswith(COMPUTED), anomaly.describe()

    run()


@pytest.mark.parametrize("name", list(KINDS))
def test_the_compiled_path_agrees_with_the_field_by_field_reference(name: str) -> None:
    """Every record of a (mutated) sample decodes to the same values and anomalies through
    the compiled path (one regular expression, then converters) as field by field."""
    kind = KINDS[name]
    framing, layouts = kind.framing, kind.layouts

    @settings(max_examples=FUZZ_EXAMPLES // 10)
    @given(mutated(kind.sample()))
    def run(data: bytes) -> None:
        try:
            raws = framing.split(data)
        except FormatError:
            return
        for raw in raws:
            lay = layouts.get(raw.text[: framing.code_length])
            if lay is None:
                continue
            assert lay.scan(raw.text, raw.index, raw.offset) == lay.scan_fields(
                raw.text, raw.index, raw.offset
            )

    run()


def _field_values(f: Field) -> st.SearchStrategy[Any]:
    """Values of every type for field ``f``: what fits it and a lot of what does not."""
    fitting: st.SearchStrategy[Any]
    if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
        fitting = st.integers(0, 10**f.length - 1)
    elif f.kind is Kind.TEXT:
        fitting = (
            st.sampled_from(f.choices)
            if f.choices
            else st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=f.length)
        )
    elif f.kind is Kind.TIMESTAMP:
        fitting = st.datetimes()
    else:
        fitting = st.dates()
    anything = st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=f.length + 2),
        st.dates(), st.datetimes(),
    )  # fmt: skip
    return st.one_of(fitting, fitting, anything)


@pytest.mark.parametrize("name", list(KINDS))
def test_the_compiled_encoder_agrees_with_the_field_by_field_reference(name: str) -> None:
    """Any values, of any type, encode to the same text or fail with the same anomaly through
    the compiled encoder as field by field."""
    layouts = list(KINDS[name].layouts.values())

    @settings(max_examples=FUZZ_EXAMPLES // 10)
    @given(st.sampled_from(layouts).flatmap(
        lambda lay: st.fixed_dictionaries({f.name: _field_values(f) for f in lay.data_fields})
        .map(lambda values: Record(lay, values))
    ))  # fmt: skip
    def run(record: Record) -> None:
        try:
            expected = record.layout.encode_fields(record, 7)
        except FormatError as exc:
            with pytest.raises(FormatError) as raised:
                record.layout.encode(record, 7)
            assert raised.value.anomaly == exc.anomaly
            return
        assert record.layout.encode(record, 7) == expected

    run()


@pytest.mark.parametrize("name", ["b2", "decompte"])
def test_one_read_says_what_validate_parse_and_lot_spans_say(name: str) -> None:
    sample = KINDS[name].sample()

    @settings(max_examples=FUZZ_EXAMPLES // 10)
    @given(mutated(sample))
    def run(data: bytes) -> None:
        read = b2.read(data)
        assert read.anomalies == b2.validate(data)
        try:
            parsed = b2.parse(data)
        except FormatError as exc:
            assert read.file is None and read.anomalies[0] == exc.anomaly
            return
        assert read.file == parsed and read.spans == b2.lot_spans(data)

    run()


@pytest.mark.parametrize("name", ["noemie-ps", "noemie-550", "noemie-oc"])
def test_one_noemie_read_says_what_validate_and_parse_say(name: str) -> None:
    """A receiver's one decoding (``read``) refuses what ``validate`` refuses, with the same
    anomalies, and gives what ``parse`` gives of every file it accepts."""
    module = {"noemie-ps": noemie_ps, "noemie-550": noemie_550, "noemie-oc": noemie_oc}[name]
    sample = KINDS[name].sample()
    assert module.read(sample) == ([], module.parse(sample))

    @settings(max_examples=FUZZ_EXAMPLES // 10)
    @given(mutated(sample))
    def run(data: bytes) -> None:
        anomalies, typed = module.read(data)
        assert anomalies == module.validate(data)
        if typed is None:
            assert anomalies
        else:
            assert not anomalies and typed == module.parse(data)

    run()


_LOT_CODES = ("1 ", "2 ", "2S", "4 ", "4M", "4B", "3 ", "3F", "3H", "5 ", "8 ", "9 ")


@st.composite
def _lot_orders(draw: st.DrawFn) -> list[str]:
    """The record types of a B2 lot: a well-ordered one (invoices of lines, a 4 with or
    without its 4M and 4Bs), then maybe edited (a type inserted, dropped or changed)."""
    order = ["1 "]
    for _invoice in range(draw(st.integers(1, 3))):
        order += ["2 ", "2S"]
        for _line in range(draw(st.integers(1, 3))):
            line = draw(st.sampled_from(("4 ", "3 ", "3F", "3H")))
            order.append(line)
            if line == "4 ":
                order += ["4M"] * draw(st.integers(0, 1)) + ["4B"] * draw(st.integers(0, 2))
        order.append("5 ")
    order.append("8 ")
    for _edit in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(order)))
        edit = draw(st.sampled_from(("insert", "drop", "change")))
        code = draw(st.sampled_from(_LOT_CODES))
        if edit == "insert":
            order.insert(at, code)
        elif at < len(order):
            order[at : at + 1] = [] if edit == "drop" else [code]
    return order + draw(st.lists(st.sampled_from(_LOT_CODES), max_size=3))


def test_a_lot_s_order_matched_at_once_is_the_order_followed_record_by_record() -> None:
    """b2's fast path (one regular expression over a lot's record types) finds the lot the
    record-by-record path finds, and declines exactly the lots where that path raises (which
    then says which record is misplaced)."""
    from noemie_sim.sim.norms.model import Cursor

    @settings(max_examples=examples(2_000), deadline=None)
    @given(_lot_orders())
    def run(order: list[str]) -> None:
        records = [Record(b2.LAYOUTS[code], {}) for code in order]
        fast, slow = Cursor(records, b2.NAMES), Cursor(records, b2.NAMES)
        whole = b2._whole_lot(fast)
        try:
            followed = b2._lot_by_records(slow)
        except FormatError:
            assert whole is None and fast.pos == 0, order
            return
        assert whole == followed and fast.pos == slow.pos, order

    run()


def test_a_lot_longer_than_the_read_ahead_is_followed_record_by_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lot of more records than b2 reads ahead takes the record-by-record path, to the same
    file, the same anomalies and the same misplaced record."""
    data = b2.build(b2.parse(KINDS["b2"].sample()))
    broken = data[:128] + data[256:]  # the first lot's header dropped
    wrong_key = bytearray(data)
    wrong_key[128 * 2 + 24 : 128 * 2 + 26] = b"00"  # the first Type 2's NIR key
    expected = [(b2.validate(d), b2.read(d).file) for d in (data, broken, bytes(wrong_key))]
    assert expected[0] == ([], b2.parse(data)) and expected[1][0] and expected[2][0]
    monkeypatch.setattr(b2, "LOT_READ_AHEAD", 3)
    assert [(b2.validate(d), b2.read(d).file) for d in (data, broken, bytes(wrong_key))] == expected
