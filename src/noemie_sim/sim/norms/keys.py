"""Check keys that the norms require on identifiers (pure functions).

* NIR key: 97 - (N mod 97) over the 13-character body, Corsica 2A -> 19 and 2B -> 18
  (norms.md §7.1, [DOC] CNAM nir-validation).
* Key "type 1-2" of norme B2 annexe 5 / FNMF annexe 102 = Luhn mod 10 (norms.md §7.5), used by
  the n° AM of a PS, FINESS, SIREN/SIRET and OC numbers.
"""

from __future__ import annotations

import re

#: The 13 characters of a NIR before its key (norms.md §7.1, docs/rules.md "NIR"): sex digit
#: 1/2 (CNAM nir-validation NirValidator), 3/4 and 7/8 (provisional numbers: CNAM
#: NnpValidator for 7/8, beta.gouv itou's NIR rule for 3/4); year; month 01-12, or 20-99
#: when the month is unknown or fictitious (norms.md §7.1), never 00 or 13-19; département
#: (2A/2B for Corsica since 1976, 20 before); commune; rank.
NIR_PATTERN = r"[1-478][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2A|2B)[0-9]{6}"
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
