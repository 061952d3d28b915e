"""The identifier law: what makes a NIR, n° AM, SIREN/SIRET or OC number valid, in one place
that the generator (sim/domain/identifiers.py), every validator (through
:meth:`.model.Checker.nir` and :func:`number_problems`) and the PKI's identities use. Pure
functions; docs/rules.md cites the source of each rule.

* NIR key: 97 - (N mod 97) over the 13-character body, Corsica 2A -> 19 and 2B -> 18
  (norms.md §7.1, [DOC] CNAM nir-validation); what the body may hold: :func:`nir_problems`.
* Key "type 1-2" of norme B2 annexe 5 / FNMF annexe 102 = Luhn mod 10 (norms.md §7.5), used by
  the n° AM of a PS, FINESS, SIREN/SIRET and OC numbers: :func:`number_problems`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

#: The shape of the 13 characters of a NIR before its key (norms.md §7.1, docs/rules.md
#: "NIR"): sex digit 1/2 (CNAM nir-validation NirValidator), 3/4 and 7/8 (provisional
#: numbers: CNAM NnpValidator for 7/8, beta.gouv itou's NIR rule for 3/4); year; month;
#: département (two digits, 2A or 2B); commune; rank. What the digits may be (the months,
#: départements, communes and ranks that exist) is :func:`nir_problems`, which names it.
NIR_PATTERN = r"[1-478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}"
NIR_BODY = re.compile(NIR_PATTERN)


def nir_key(body: str) -> int:
    """The 2-digit key (1..97) of a 13-character NIR body; ValueError if the body is malformed."""
    if not NIR_BODY.fullmatch(body):
        raise ValueError(f"not a NIR body: {body!r}")
    digits = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    digits = digits.replace("2B", "18", 1) if body[5:7] == "2B" else digits
    return 97 - int(digits) % 97


def luhn_key(digits: str) -> int:
    """The Luhn key (0..9) to append to ``digits`` ("clé type 1-2", norme B2 annexe 5)."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"not digits: {digits!r}")
    total = 0
    # The key will sit at the right, so the rightmost digit of the body is doubled.
    for rank, ch in enumerate(reversed(digits)):
        d = int(ch)
        if rank % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn key of the others."""
    return (
        len(number) >= 2
        and number.isascii()
        and number.isdigit()
        and luhn_key(number[:-1]) == int(number[-1])
    )


# -- what a NIR may be ------------------------------------------------------------------------


@dataclass(frozen=True)
class Impossible:
    """Why an identifier cannot exist, as an anomaly says it: the message, what was expected
    and what was found."""

    message: str
    expected: str
    found: str


#: Corsica became two départements, 2A and 2B, on 1 January 1976 (loi 75-356): the NIR of a
#: person born there earlier carries "20" (norms.md §7.1).
CORSICA_SPLIT = date(1976, 1, 1)
#: Overseas: the département takes a third digit (the commune two): 971-978 départements and
#: collectivités d'outre-mer, 984-988 the other collectivités (norms.md §7.1; INSEE COG).
OVERSEAS = re.compile(r"97[1-8]|98[4-8]")
#: Pseudo-months for a person registered from an incomplete civil status: 20-42 and 50-99
#: (INSEE's ranges; norms.md §7.1 gives 20-99, the Wikipedia FR article on the NIR the two
#: ranges); 00, 13-19 and 43-49 never occur.
PSEUDO_MONTHS = (range(20, 43), range(50, 100))


def nir_month_valid(month: int) -> bool:
    """True for a birth month 01-12 or a pseudo-month."""
    return 1 <= month <= 12 or any(month in r for r in PSEUDO_MONTHS)


@functools.lru_cache(maxsize=1 << 14)  # a file names the same people again and again
def nir_problems(body: str, birth: date | None = None) -> tuple[Impossible, ...]:
    """What makes a NIR body impossible, whatever its key: a month outside 01-12 and the
    pseudo-months, département 00, 96 or an overseas code that does not exist, commune or
    n° d'ordre 000, and, given the holder's ``birth`` date (from the same record), a year or
    month that contradicts it or the Corsica rule broken either way (2A/2B for a birth before
    1976, 20 after). ``body`` has :data:`NIR_PATTERN`'s shape (else the shape is the problem).
    """
    if not NIR_BODY.fullmatch(body):
        return (Impossible("not a NIR", "sex, year, month, département, commune, rank", body),)
    problems = []
    month = int(body[3:5])
    if not nir_month_valid(month):
        problems.append(Impossible("impossible NIR: no such month", "01-12, 20-42 or 50-99",
                                   body[3:5]))  # fmt: skip
    department = body[5:7]
    if department in ("97", "98"):
        department, commune = body[5:8], body[8:10]
        if not OVERSEAS.fullmatch(department):
            problems.append(Impossible("impossible NIR: no such overseas département",
                                       "971-978 or 984-988", department))  # fmt: skip
        elif commune == "00":
            problems.append(Impossible("impossible NIR: commune 00", "01-99", commune))
    else:
        commune = body[7:10]
        if department in ("00", "96"):
            problems.append(Impossible("impossible NIR: no such département",
                                       "01-95, 2A, 2B, 97x, 98x or 99", department))  # fmt: skip
        if commune == "000":
            what = "country" if department == "99" else "commune"
            problems.append(Impossible(f"impossible NIR: {what} 000", "001-999", commune))
    if body[10:13] == "000":
        problems.append(Impossible("impossible NIR: n° d'ordre 000", "001-999", body[10:13]))
    if birth is not None:
        problems.extend(_against_birth(body, birth))
    return tuple(problems)


def _against_birth(body: str, birth: date) -> list[Impossible]:
    problems = []
    if body[1:3] != f"{birth.year % 100:02d}":
        problems.append(Impossible("NIR year contradicts the birth date",
                                   f"{birth.year % 100:02d}", body[1:3]))  # fmt: skip
    month = int(body[3:5])
    if 1 <= month <= 12 and month != birth.month:
        problems.append(Impossible("NIR month contradicts the birth date",
                                   f"{birth.month:02d} or a pseudo-month", body[3:5]))  # fmt: skip
    department = body[5:7]
    if department in ("2A", "2B") and birth < CORSICA_SPLIT:
        problems.append(Impossible("NIR département 2A/2B for a birth before 1976",
                                   "20 (Corsica before 1 January 1976)", department))  # fmt: skip
    elif department == "20" and birth >= CORSICA_SPLIT:
        problems.append(Impossible("NIR département 20 for a birth from 1976",
                                   "2A or 2B (Corsica from 1976)", department))  # fmt: skip
    return problems


# -- numbers with a Luhn key ----------------------------------------------------------------------

#: what each Luhn-keyed number is: its length, and the Luhn spans that must pass
#: (a SIRET's SIREN is keyed on its own, and the 14 digits as a whole)
_NUMBERS = {
    "n° AM": (9, ((0, 9),)),
    "FINESS": (9, ((0, 9),)),
    "SIREN": (9, ((0, 9),)),
    "SIRET": (14, ((0, 9), (0, 14))),
    "OC number": (8, ((0, 8),)),
}


@functools.lru_cache(maxsize=1 << 12)  # the same PS, employer or OC on every record
def number_problems(kind: str, value: str) -> tuple[Impossible, ...]:
    """What is wrong with a number of ``kind`` (n° AM, FINESS, SIREN, SIRET, OC number): its
    length and digits, then each Luhn key it carries (a SIRET's SIREN key and its own)."""
    length, spans = _NUMBERS[kind]
    if len(value) != length or not value.isascii() or not value.isdigit():
        return (Impossible(f"not a {kind}", f"{length} digits", value),)
    problems = []
    for start, end in spans:
        part = value[start:end]
        if not luhn_valid(part):
            name = "SIREN part of the SIRET" if (kind, end) == ("SIRET", 9) else kind
            problems.append(Impossible(f"bad {name} key (Luhn)",
                                       f"{part[:-1]}{luhn_key(part[:-1])}", part))  # fmt: skip
    return tuple(problems)
