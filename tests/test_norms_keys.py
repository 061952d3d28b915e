"""Check keys against the vectors of the reference notes (norms.md §7)."""

import pytest

from noemie_sim.sim.norms.keys import luhn_key, luhn_valid, nir_key

NIR_VECTORS = [  # norms.md §7.1, matching CNAM nir-validation and IsoCodes
    ("2550814168025", 38),
    ("2940375120005", 91),
    ("1531245007231", 60),
    ("284052A321025", 52),
    ("284052B321025", 79),
    ("2840588321025", 32),
    ("177022A001002", 29),
    ("2600720001002", 89),
]
CPS_TEST_CARDS = [
    "991086265",
    "991023763",
    "991084948",
    "991091976",
    "991038431",
    "991011974",
    "991049453",
    "991068040",
    "991098179",
]


@pytest.mark.parametrize(("body", "key"), NIR_VECTORS)
def test_nir_key_vectors(body: str, key: int) -> None:
    assert nir_key(body) == key


@pytest.mark.parametrize(
    "body", ["", "255081416802", "955081416802", "2550814168O25", "25508ZZ168025"]
)
def test_nir_key_refuses_malformed_bodies(body: str) -> None:
    with pytest.raises(ValueError):
        nir_key(body)


@pytest.mark.parametrize("number", CPS_TEST_CARDS)
def test_gie_test_cps_numbers_pass_luhn(number: str) -> None:
    assert luhn_valid(number)
    assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_luhn_type_1_2_vector_and_finess() -> None:
    assert luhn_key("76031208") == 2  # norms.md §7.5 (IsoCodes returns 10 for 0: we return 0)
    assert luhn_valid("130786049") and luhn_valid("750712184")  # FINESS from SNDS
    assert luhn_key("0") == 0 and luhn_valid("00")
    assert not luhn_valid("") and not luhn_valid("1") and not luhn_valid("12a4")
