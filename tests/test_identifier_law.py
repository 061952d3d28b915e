"""The identifier law (sim/norms/keys.py), one for the generator and every validator.

What the generator makes, every validator accepts; a NIR mutated to any impossible case,
with its key recomputed so that only the impossibility is left, every validator refuses
naming the field; the population holds the valid rarities (born overseas, abroad, with a
pseudo-month, in Corsica on both sides of 1976) at plausible shares.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noemie_sim.sim.domain import identifiers as ids
from noemie_sim.sim.domain.generate import generate
from noemie_sim.sim.domain.population import PopulationConfig, build
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.codec import Record
from noemie_sim.sim.norms.keys import nir_key, nir_problems, number_problems

#: every NIR field of every kind: (kind, record code, NIR field, key field)
NIR_FIELDS = [
    ("b2", "2 ", "insured_nir", "insured_nir_key"),
    ("b2", "2S", "beneficiary_nir", "beneficiary_nir_key"),
    ("decompte", "2 ", "insured_nir", "insured_nir_key"),
    ("decompte", "2S", "beneficiary_nir", "beneficiary_nir_key"),
    ("noemie-ps", "110", "insured_nir", "insured_nir_key"),
    ("oc-answer", "R1", "insured_nir", "insured_nir_key"),
    ("noemie-550", "110", "insured_nir", "insured_nir_key"),
]


def impossible(body: str) -> dict[str, str]:
    """``body`` changed to each impossible case the law names (shape kept)."""
    return {
        "month 00": body[:3] + "00" + body[5:],
        "month 13": body[:3] + "13" + body[5:],
        "month 45": body[:3] + "45" + body[5:],
        "département 00": body[:5] + "00" + body[7:],
        "département 96": body[:5] + "96" + body[7:],
        "overseas 979": body[:5] + "979" + body[8:],
        "commune 000": body[:5] + "75000" + body[10:],
        "n° d'ordre 000": body[:10] + "000",
    }


def mutate(data: bytes, kind_name: str, code: str, field: str, key_field: str, body: str) -> bytes:
    """``data`` with the first ``code`` record's NIR ``field`` set to ``body`` and its key to
    the key of that body."""
    kind = kinds.KINDS[kind_name]
    raws = kind.framing.split(data)
    texts = [raw.text for raw in raws]
    at = next(i for i, t in enumerate(texts) if t[: kind.framing.code_length] == code)
    lay = kind.layouts[code]
    values = dict(lay.decode(texts[at]).values)
    values[field] = body
    values[key_field] = nir_key(body)
    texts[at] = lay.encode(Record(lay, values))
    return kind.framing.join(texts)


def first_nir(data: bytes, kind_name: str, code: str, field: str) -> str:
    kind = kinds.KINDS[kind_name]
    raw = next(r for r in kind.framing.split(data) if r.text.startswith(code))
    return kind.layouts[code].decode(raw.text).string(field)


@pytest.mark.parametrize(("kind_name", "code", "field", "key_field"), NIR_FIELDS)
def test_every_validator_refuses_every_impossible_nir(
    kind_name: str, code: str, field: str, key_field: str
) -> None:
    data = generate(kind_name, 5, 40)  # enough for an OC answer to reject a décompte
    assert kinds.KINDS[kind_name].validate(data) == []
    body = first_nir(data, kind_name, code, field)
    for case, bad in impossible(body).items():
        assert nir_problems(bad), case
        found = kinds.KINDS[kind_name].validate(
            mutate(data, kind_name, code, field, key_field, bad)
        )
        on_field = [a for a in found if a.field == field]
        assert on_field, (case, [str(a) for a in found])
        assert all(a.field == field for a in found), (case, [str(a) for a in found])
        assert "impossible NIR" in on_field[0].message, (case, str(on_field[0]))


def test_a_bénéficiaire_nir_contradicting_the_birth_date_is_refused() -> None:
    data = generate("b2", 5, 4)
    body = first_nir(data, "b2", "2S", "beneficiary_nir")
    assert 1 <= int(body[3:5]) <= 12, "the test needs a NIR with a real month"
    year = f"{(int(body[1:3]) + 1) % 100:02d}"
    month = f"{int(body[3:5]) % 12 + 1:02d}"
    for bad, said in (
        (body[0] + year + body[3:], "NIR year contradicts the birth date"),
        (body[:3] + month + body[5:], "NIR month contradicts the birth date"),
    ):
        mutated = mutate(data, "b2", "2S", "beneficiary_nir", "beneficiary_nir_key", bad)
        found = kinds.KINDS["b2"].validate(mutated)
        assert [(a.field, a.message) for a in found] == [("beneficiary_nir", said)], found


def test_the_corsica_rule_both_ways() -> None:
    before, after = date(1960, 7, 14), date(1980, 3, 2)
    assert nir_problems("2600720001002", before) == ()  # 20 before 1976
    assert [p.message for p in nir_problems("260072A001002", before)] == [
        "NIR département 2A/2B for a birth before 1976"
    ]
    assert [p.message for p in nir_problems("2800320001002", after)] == [
        "NIR département 20 for a birth from 1976"
    ]
    assert nir_problems("280032B001002", after) == ()


def test_the_valid_rarities_pass() -> None:
    born = date(1950, 4, 2)
    places = (("971", 12, None), ("976", 3, None), ("99", 350, None), ("99", 109, 31),
              ("99", 127, 50), ("2A", 4, None))  # fmt: skip
    for department, commune, month in places:
        body, key = ids.nir(1, born, department, commune, 7, pseudo_month=month)
        assert nir_problems(body, born) == (), body
        assert ids.check_nir(f"{body}{key:02d}", sex=1, birth=born) == []
    assert ids.nir(1, born, "2A", 4, 7)[0][5:7] == "20"
    with pytest.raises(ValueError, match="no such month"):
        ids.nir(1, born, "99", 350, 7, pseudo_month=45)
    with pytest.raises(ValueError):
        ids.nir(1, born, "99", 0, 7)


def test_the_population_holds_the_rarities_at_plausible_shares() -> None:
    people = [b for _, b in build(11, PopulationConfig(assures=4000)).beneficiaries()]
    where = Counter(
        "overseas" if b.nir[5:7] == "97" else "abroad" if b.nir[5:7] == "99" else "metropolitan"
        for b in people
    )
    total = len(people)
    assert 0.015 < where["overseas"] / total < 0.05, where
    assert 0.05 < where["abroad"] / total < 0.12, where
    pseudo = [b for b in people if int(b.nir[3:5]) > 12]
    assert pseudo and all(b.nir[5:7] == "99" for b in pseudo)
    corsica = {b.nir[5:7] for b in people if b.nir[5:7] in ("20", "2A", "2B")}
    assert corsica == {"20", "2A", "2B"}
    for b in people:
        assert nir_problems(b.nir, b.birth_date) == (), (b.nir, b.birth_date)


@given(seed=st.integers(0, 10_000), kind_name=st.sampled_from(sorted(kinds.KINDS)))
def test_what_the_generator_makes_every_validator_accepts(seed: int, kind_name: str) -> None:
    data = generate(kind_name, seed, 3)
    assert kinds.KINDS[kind_name].validate(data) == []


def test_number_keys() -> None:
    assert number_problems("n° AM", "991086265") == ()
    assert [p.message for p in number_problems("SIRET", "86379402100080")] == [
        "bad SIREN part of the SIRET key (Luhn)"
    ]
    assert [p.message for p in number_problems("SIRET", "86379402000836")] == [
        "bad SIRET key (Luhn)"
    ]
    assert number_problems("OC number", "7594236") and number_problems("FINESS", "13078604x")
