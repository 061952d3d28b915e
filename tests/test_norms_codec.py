"""The generic codec: layout tables are checked, values encode and decode by kind."""

from datetime import date, datetime

import pytest

from noemie_sim.sim.norms.codec import (
    DelimitedFraming,
    Field,
    FixedFraming,
    Kind,
    amount,
    const,
    decode_records,
    layout,
    num,
    text,
    when,
)
from noemie_sim.sim.norms.errors import FormatError

LAY = layout(
    "T ",
    "Type T",
    "test",
    40,
    [
        const("code", 1, "T ", "code"),
        num("count", 3, 3, "count"),
        amount("money", 6, 7, "money"),
        text("name", 13, 8, "name", optional=True),
        when("day", 21, Kind.DATE_DMY, "day"),
        when("stamp", 27, Kind.TIMESTAMP, "stamp"),
    ],
)


def test_gaps_become_blank_fillers_and_tables_are_checked() -> None:
    sparse = layout("X", "X", "x", 10, [num("a", 5, 2, "a")])
    assert [(f.start, f.length, f.kind) for f in sparse.fields] == [
        (1, 4, Kind.FILLER),
        (5, 2, Kind.NUMERIC),
        (7, 4, Kind.FILLER),
    ]
    assert sparse.decode("    12    ")["a"] == 12
    with pytest.raises(FormatError, match="filler must be blank"):
        sparse.decode("  x 12    ")
    with pytest.raises(ValueError, match="overlaps"):
        layout("X", "X", "x", 10, [num("a", 1, 3, "a"), num("b", 3, 2, "b")])
    with pytest.raises(ValueError, match="past the record"):
        layout("X", "X", "x", 10, [num("a", 9, 3, "a")])
    with pytest.raises(ValueError, match="8 long"):
        layout("X", "X", "x", 10, [Field("d", 1, 6, Kind.DATE8, "d")])
    with pytest.raises(ValueError, match="declared twice"):
        layout("X", "X", "x", 10, [num("a", 1, 1, "a"), num("a", 2, 1, "a")])


def test_values_round_trip_through_text() -> None:
    rec = LAY.record(
        count=7,
        money=1234,
        name="DUPONT",
        day=date(2026, 3, 2),
        stamp=datetime(2026, 3, 2, 8, 5, 9),
    )
    encoded = LAY.encode(rec)
    assert encoded == "T 0070001234DUPONT  02032620260302080509"
    assert LAY.decode(encoded).values == rec.values
    blank = LAY.record(
        count=0, money=0, name=None, day=date(1970, 1, 1), stamp=datetime(2000, 1, 1)
    )
    assert LAY.decode(LAY.encode(blank))["name"] is None


@pytest.mark.parametrize(
    ("position", "new", "field", "message"),
    [
        (3, "0A7", "count", "not numeric"),
        (21, "310226", "day", "not a calendar date"),
        (1, "U ", "code", "wrong constant"),
        (13, "DU\tONT ", "name", "invalid character"),
    ],
)
def test_each_bad_field_is_located(position: int, new: str, field: str, message: str) -> None:
    good = LAY.encode(
        LAY.record(count=7, money=1, name="X", day=date(2026, 1, 1), stamp=datetime(2026, 1, 1))
    )
    bad = good[: position - 1] + new + good[position - 1 + len(new) :]
    with pytest.raises(FormatError) as exc:
        LAY.decode(bad, index=4)
    a = exc.value.anomaly
    assert (a.record, a.field, a.position, a.message) == (4, field, LAY.field(field).start, message)
    _values, anomalies = LAY.scan(bad)
    assert len(anomalies) == 1


def test_scan_collects_every_bad_field() -> None:
    bad = "T " + "X07" + "00000X1" + "DUPONT  " + "310226" + "20261302080509"
    assert len(bad) == LAY.length
    _values, anomalies = LAY.scan(bad)
    assert {a.field for a in anomalies} == {"count", "money", "day", "stamp"}


def test_pivot_and_unrepresentable_years() -> None:
    f = when("d", 1, Kind.DATE_DMY, "d", pivot=30)
    lay = layout("", "P", "p", 6, [f])
    assert lay.decode("010129")["d"] == date(2029, 1, 1)
    assert lay.decode("010130")["d"] == date(1930, 1, 1)
    with pytest.raises(FormatError, match="cannot be encoded"):
        lay.encode(lay.record(d=date(2030, 1, 1)))


def test_framings_split_and_join() -> None:
    fixed = FixedFraming(record_length=4, code_length=1)
    assert [r.text for r in fixed.split(b"abcdefgh")] == ["abcd", "efgh"]
    assert [r.offset for r in fixed.split(b"abcd\r\nefgh\r\n")] == [0, 6]
    with pytest.raises(FormatError, match="empty file"):
        fixed.split(b"")
    delim = DelimitedFraming()
    assert [r.text for r in delim.split(b"000x@\n001y@")] == ["000x", "001y"]
    assert delim.join(["a", "b"]) == b"a@b@"
    with pytest.raises(FormatError, match="unknown record type"):
        decode_records(b"Z   ", fixed, {})
    with pytest.raises(TypeError):
        fixed.split("text")  # type: ignore[arg-type]
