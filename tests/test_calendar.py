"""Jours ouvrés: French public holidays, adding and counting business days."""

from datetime import date, datetime

import pytest

from noemie_sim.sim.calendar import (
    add_jours_ouvres,
    easter,
    is_jour_ouvre,
    jours_ouvres_between,
    public_holidays,
)


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter(year: int, sunday: date) -> None:
    assert easter(year) == sunday


def test_public_holidays_of_2026() -> None:
    assert sorted(public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 7, 14),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ]


def test_jours_ouvres() -> None:
    assert is_jour_ouvre(date(2026, 3, 2))  # a Monday
    assert not is_jour_ouvre(date(2026, 3, 7))  # Saturday
    assert not is_jour_ouvre(date(2026, 4, 6))  # Easter Monday
    friday = datetime(2026, 3, 6, 10, 0)
    assert add_jours_ouvres(friday, 2) == datetime(2026, 3, 10, 10, 0)
    assert add_jours_ouvres(datetime(2026, 4, 3, 10), 2) == datetime(
        2026, 4, 8, 10
    )  # Easter Monday
    assert add_jours_ouvres(friday, 0) == friday
    # Ascension (Thu 14 May 2026) and Whit Monday (25 May) are skipped: 10 days -> Fri 29 May
    assert add_jours_ouvres(datetime(2026, 5, 13, 9), 10) == datetime(2026, 5, 29, 9)
    with pytest.raises(ValueError):
        add_jours_ouvres(friday, -1)


def test_jours_ouvres_between_is_the_inverse_of_adding() -> None:
    start = datetime(2026, 4, 30, 8)
    for count in range(0, 40):
        end = add_jours_ouvres(start, count)
        assert jours_ouvres_between(start.date(), end.date()) == count
    assert jours_ouvres_between(date(2026, 3, 6), date(2026, 3, 9)) == 1  # Friday -> Monday
    assert jours_ouvres_between(date(2026, 3, 9), date(2026, 3, 6)) == 0
