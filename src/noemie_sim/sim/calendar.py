"""French business days (jours ouvrés): Monday to Friday except public holidays.

Public holidays (Code du travail L3133-1): 1 January, Easter Monday, 1 May, 8 May, Ascension
Thursday (Easter + 39 days), Whit Monday (Easter + 50), 14 July, 15 August, 1 November,
11 November, 25 December. Whit Monday counts as a holiday here, although many employers make
it the journée de solidarité. In Moselle, Bas-Rhin and Haut-Rhin (Code du travail L3134-13)
Good Friday and 26 December are public holidays too: every function takes ``alsace_moselle``
for the calendar of those départements (the caisses 57, 67 and 68 and their partners).
Pure functions: the time they work on is given, never read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache


def easter(year: int) -> date:
    """Easter Sunday (Gregorian calendar; the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def public_holidays(year: int, alsace_moselle: bool = False) -> frozenset[date]:
    """The public holidays of ``year``, with Good Friday and 26 December in Alsace-Moselle."""
    sunday = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [sunday + timedelta(days=n) for n in (1, 39, 50)]
    if alsace_moselle:
        fixed.append((12, 26))
        movable.append(sunday - timedelta(days=2))
    return frozenset([date(year, m, d) for m, d in fixed] + movable)


def is_jour_ouvre(day: date, alsace_moselle: bool = False) -> bool:
    """True for Monday to Friday when it is not a public holiday (of Alsace-Moselle too when
    ``alsace_moselle``)."""
    return day.weekday() < 5 and day not in public_holidays(day.year, alsace_moselle)


def add_jours_ouvres(moment: datetime, count: int, alsace_moselle: bool = False) -> datetime:
    """The same time of day, ``count`` jours ouvrés after ``moment``'s day (``count`` >= 0):
    2 jours ouvrés after Friday 10:00 is Tuesday 10:00 (Monday and Tuesday are counted), or
    Wednesday 10:00 when that Monday is a public holiday."""
    if count < 0:
        raise ValueError("count must be zero or more")
    return datetime.combine(_jours_ouvres_after(moment.date(), count, alsace_moselle),
                            moment.timetz())  # fmt: skip


@lru_cache(maxsize=4096)
def _jours_ouvres_after(day: date, count: int, alsace_moselle: bool) -> date:
    """The day ``count`` jours ouvrés after ``day``: remembered, since a report asks it for
    each of thousands of files and lots, sent on a few days."""
    while count:
        day += timedelta(days=1)
        if is_jour_ouvre(day, alsace_moselle):
            count -= 1
    return day


def jours_ouvres_between(start: date, end: date, alsace_moselle: bool = False) -> int:
    """How many jours ouvrés lie after ``start`` and up to ``end`` included (0 if end <= start):
    the delay, in business days, from an event on ``start`` to one on ``end``."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_jour_ouvre(day, alsace_moselle)
    return count
