"""Identifiers: generated ones are valid and consistent; bad ones are explained."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noemie_sim.sim.domain import identifiers as ids
from noemie_sim.sim.norms.keys import nir_key

from .test_norms_keys import CPS_TEST_CARDS, NIR_VECTORS


@pytest.mark.parametrize(("body", "key"), NIR_VECTORS)
def test_nir_vectors_check(body: str, key: int) -> None:
    assert ids.check_nir(f"{body}{key:02d}") == []
    assert ids.check_nir(f"{body}{key % 97 + 1:02d}") == [
        f"NIR key is {key % 97 + 1:02d}, expected {key:02d}"
    ]


@given(
    sex=st.sampled_from((1, 2)),
    birth=st.dates(date(1930, 1, 1), date(2025, 12, 31)),
    department=st.sampled_from(ids.DEPARTMENTS),
    commune=st.integers(1, 990),
    rank=st.integers(1, 999),
)
def test_generated_nir_is_consistent_with_the_person(
    sex: int, birth: date, department: str, commune: int, rank: int
) -> None:
    body, key = ids.nir(sex, birth, department, commune, rank)
    assert ids.check_nir(f"{body}{key:02d}", sex=sex, birth=birth, department=department) == []


def test_nir_inconsistencies_are_named() -> None:
    body, key = ids.nir(1, date(1985, 5, 12), "75", 123, 45)
    problems = ids.check_nir(f"{body}{key:02d}", sex=2, birth=date(1986, 6, 1), department="13")
    assert len(problems) == 4
    assert ids.check_nir("123") == ["a NIR has 15 characters (13 + key), not 3"]


@pytest.mark.parametrize("number", CPS_TEST_CARDS)
def test_gie_test_cards_are_valid_ps_numbers(number: str) -> None:
    assert ids.check_ps_number(number) == []
    assert ids.ps_category(number) == "médecin"


def test_ps_number_structure_and_errors() -> None:
    number = ids.ps_number("75", 6, 1234)
    assert number.startswith("75601234") and ids.check_ps_number(number) == []
    assert ids.ps_category(number) == "infirmier"
    assert ids.ps_number("2A", 1, 1).startswith("201")
    assert ids.check_ps_number("991086266") == [
        "bad n° AM key (Luhn): 991086266, expected 991086265"
    ]
    with pytest.raises(ValueError):
        ids.ps_number("75", 1, 100_000)


def test_siren_siret_finess_rpps_oc_organisme() -> None:
    siren = ids.siren("86379402")
    assert siren == "863794020"
    siret = ids.siret(siren, 83)
    assert len(siret) == 14 and ids.check_siret(siret) == []
    assert ids.check_siret("86379402000836") == [
        "bad SIRET key (Luhn): 86379402000836, expected 86379402000835"
    ]
    # the SIREN inside is keyed on its own: 14 digits passing Luhn over a bad SIREN fail
    assert ids.check_siret("86379402100080") == [
        "bad SIREN part of the SIRET key (Luhn): 863794021, expected 863794020"
    ]
    assert ids.check_finess(ids.finess("13078604")) == [] and ids.check_finess("130786048")
    assert ids.check_rpps("10003456789") == [] and ids.check_rpps("1000")
    assert ids.check_oc_number("75942367") == [] and ids.check_oc_number("75942368")
    assert ids.organisme(1, 751, 0) == "017510000" and ids.check_organisme("017510000") == []
    assert ids.check_organisme("007510000") == ["régime 00 does not exist"]


def test_corsica_before_1976_is_written_20_and_2a_2b_after() -> None:
    """Corsica became 2A and 2B on 1 January 1976 (loi 75-356 of 15 May 1975); a NIR keeps the
    département of birth as it was then: "20" for a person born in Corsica before 1976
    (norms.md §7.1; vector 260072000100289 there)."""
    body, key = ids.nir(2, date(1960, 7, 14), "2A", 1, 2)
    assert body[5:7] == "20" and key == nir_key(body)
    assert ids.check_nir(f"{body}{key:02d}", birth=date(1960, 7, 14), department="2A") == []
    after, _ = ids.nir(2, date(1976, 1, 1), "2B", 1, 2)
    assert after[5:7] == "2B"
    assert ids.check_nir("260072000100289", birth=date(1960, 7, 14)) == []
    early = "260072A001002"  # 2A for a birth in 1960
    problems = ids.check_nir(f"{early}{nir_key(early):02d}", birth=date(1960, 7, 14))
    assert problems == [
        "NIR département 2A/2B for a birth before 1976: 2A, expected 20 (Corsica before 1 "
        "January 1976)"
    ]


def test_a_population_born_in_corsica_before_1976_carries_20() -> None:
    from noemie_sim.sim.domain.population import PopulationConfig, build

    people = [b for _, b in build(3, PopulationConfig(assures=600)).beneficiaries()]
    corsican = [b for b in people if b.nir[5:7] in ("20", "2A", "2B")]
    assert any(b.birth_date < ids.CORSICA_SPLIT for b in corsican), "the test says nothing"
    for b in corsican:
        assert (b.nir[5:7] == "20") == (b.birth_date < ids.CORSICA_SPLIT), (b.nir, b.birth_date)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("5850575123045", "sex digit 5"),
        ("6850575123045", "sex digit 6"),
        ("9850575123045", "sex digit 9"),
        ("1850075123045", "month 00"),
        ("1851375123045", "month 13"),
        ("1851975123045", "month 19"),
    ],
)
def test_structurally_impossible_nirs_are_refused_even_with_their_key(body: str, why: str) -> None:
    """Sex digit 1/2 (CNAM nir-validation NirValidator), 7/8 (NNP/NIA, CNAM NnpValidator) and
    3/4 (beta.gouv itou): the shape of the field; month 01-12 or a pseudo-month 20-42, 50-99:
    the identifier law, which names it. A recomputed key does not make an impossible NIR
    valid, in check_nir nor in any file."""
    from noemie_sim.sim.norms import b2, samples

    full = f"{body}{97 - int(body) % 97:02d}"  # the key computed as for any NIR
    month = why.startswith("month")
    said = "impossible NIR: no such month" if month else "NIR body"
    assert ids.check_nir(full)[0].startswith(said), why
    data = bytearray(samples.b2_lot())
    for i in range(0, len(data), 128):
        if data[i : i + 2] == b"2 ":
            data[i + 11 : i + 26] = full.encode()
            break
    found = b2.validate(bytes(data))
    message = "impossible NIR: no such month" if month else "invalid value"
    assert [(a.field, a.message) for a in found] == [("insured_nir", message)], why
