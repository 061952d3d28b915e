"""Identifiers: generated ones are valid and consistent; bad ones are explained."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noemie_sim.sim.domain import identifiers as ids

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
    assert ids.check_ps_number("991086266") == ["n° AM key is 6, expected 5"]
    with pytest.raises(ValueError):
        ids.ps_number("75", 1, 100_000)


def test_siren_siret_finess_rpps_oc_organisme() -> None:
    siren = ids.siren("86379402")
    assert siren == "863794020"
    siret = ids.siret(siren, 83)
    assert len(siret) == 14 and ids.check_siret(siret) == []
    assert ids.check_siret("86379402000836") == ["SIRET key is 6, expected 5"]
    assert ids.check_finess(ids.finess("13078604")) == [] and ids.check_finess("130786048")
    assert ids.check_rpps("10003456789") == [] and ids.check_rpps("1000")
    assert ids.check_oc_number("75942367") == [] and ids.check_oc_number("75942368")
    assert ids.organisme(1, 751, 0) == "017510000" and ids.check_organisme("017510000") == []
    assert ids.check_organisme("007510000") == ["régime 00 does not exist"]
