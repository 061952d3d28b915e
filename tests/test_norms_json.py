"""The JSON form of every kind of file: the same content as the fixed-width form, both ways
without loss, following the published JSON Schema; any JSON either converts or raises the one
format error naming the record and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from noemie_sim.scenarios.cli import main
from noemie_sim.sim.norms import jsonform, kinds
from noemie_sim.sim.norms.errors import FormatError

from .strategies import ROUND_TRIPS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_every_kind_converts_both_ways_and_follows_its_schema(name: str) -> None:
    kind = kinds.KINDS[name]
    data = kind.sample()
    document = jsonform.to_json(data)
    schema = jsonform.schema(kind)
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(document)
    text = json.dumps(document)
    assert jsonform.from_json(json.loads(text)) == data
    assert jsonform.to_json(jsonform.from_json(json.loads(text))) == document
    # the published schema is the one the code makes
    published = ROOT / "docs" / "schemas" / f"{name}.schema.json"
    assert json.loads(published.read_text(encoding="utf-8")) == schema, (
        f"regenerate {published.name}: the layouts changed"
    )


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_any_file_of_every_kind_makes_the_round_trip(name: str) -> None:
    strategy, build, _parse = ROUND_TRIPS[name]

    @settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(strategy)
    def round_trip(made: Any) -> None:
        data = build(made)
        document = jsonform.to_json(data, kinds.KINDS[name])
        assert jsonform.from_json(json.loads(json.dumps(document))) == data

    round_trip()


def _sample_document() -> dict[str, Any]:
    return jsonform.to_json(kinds.KINDS["decompte"].sample())


@pytest.mark.parametrize(
    ("change", "record", "field", "words"),
    [
        (
            lambda d: d["records"][2]["fields"].update(insured_nir="12345"),
            3,
            "insured_nir",
            "does not match",
        ),
        (lambda d: d["records"][2]["fields"].pop("insured_nir"), 3, "insured_nir", "required"),
        (lambda d: d["records"][2]["fields"].update(colour="red"), 3, "colour", "Additional"),
        (lambda d: d["records"][1].update(record="ZZ"), 2, "record", "unknown record"),
        (lambda d: d["records"][0]["fields"].update(file_id=-1), 1, "file_id", "minimum"),
        (
            lambda d: d["records"][0]["fields"].update(created_at="yesterday"),
            1,
            "created_at",
            "does not match",
        ),
        (lambda d: d.update(kind="pdf"), 0, "kind", "unknown kind"),
    ],
)
def test_a_wrong_document_names_the_record_and_field(
    change: Any, record: int, field: str, words: str
) -> None:
    document = _sample_document()
    change(document)
    with pytest.raises(FormatError) as caught:
        jsonform.from_json(document)
    anomaly = caught.value.anomaly
    assert (anomaly.record, anomaly.field) == (record, field), anomaly
    assert words in anomaly.describe()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_json_converts_or_raises_the_format_error(data: st.DataObject) -> None:
    """Fuzz: a valid document with one value somewhere replaced by any JSON value."""
    document = _sample_document()
    entry = data.draw(st.sampled_from(document["records"]))
    target = data.draw(st.sampled_from([document, entry, entry["fields"]]))
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(JSON)
    try:
        converted = jsonform.from_json(document)
    except FormatError:
        return
    assert isinstance(converted, bytes)


def test_convert_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = tmp_path / "sample.ocr"
    fixed.write_bytes(kinds.KINDS["oc-answer"].sample())
    as_json, back = tmp_path / "sample.json", tmp_path / "back.ocr"
    assert main(["convert", str(fixed), "--to", "json", "--out", str(as_json)]) == 0
    assert json.loads(as_json.read_text())["kind"] == "oc-answer"
    assert main(["convert", str(as_json), "--to", "fixed", "--out", str(back)]) == 0
    assert back.read_bytes() == fixed.read_bytes()
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["convert", str(broken), "--to", "fixed"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert main(["convert", str(as_json), "--to", "json"]) == 2  # JSON is not a fixed file
    assert "cannot convert" in capsys.readouterr().err
