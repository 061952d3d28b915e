"""Identifiers of the network: build valid ones, and say what is wrong with a bad one.

Facts from norms.md §7: NIR (13 characters + key 97 - N mod 97, Corsica 2A/2B), n° AM of a PS
(département 2 + catégorie 1 + ordre 5 + Luhn key), FINESS (8 digits + Luhn), RPPS (11 digits,
no key enforced: the Luhn claim is contradicted by ANS examples), SIREN (8 + Luhn) and SIRET
(SIREN + NIC 4 + Luhn over 14), organisme (régime 2 + caisse 3 + centre 4).

Convention of noemie-sim: an OC number is 7 digits + a Luhn key (FNMF annexe 102 lists the
"type 1-2" key for mutuelles; the exact rule for OC numbers is not public).

Every ``check_*`` function returns the list of problems, empty when the identifier is valid.
"""

from __future__ import annotations

import re
from datetime import date

from noemie_sim.sim.norms.keys import NIR_BODY, luhn_key, luhn_valid, nir_key

#: n° AM catégorie (norms.md §7.2)
PS_CATEGORIES = {
    0: "établissement",
    1: "médecin",
    2: "fournisseur",
    3: "laboratoire",
    4: "chirurgien-dentiste",
    5: "sage-femme",
    6: "infirmier",
    7: "masseur-kinésithérapeute",
    8: "pédicure-podologue",
    9: "orthophoniste ou orthoptiste",
}
DEPARTMENTS = (*(f"{d:02d}" for d in range(1, 96) if d != 20), "2A", "2B")


#: Corsica became two départements, 2A and 2B, on 1 January 1976 (loi 75-356): the NIR of a
#: person born there earlier carries "20" (norms.md §7.1).
CORSICA_SPLIT = date(1976, 1, 1)


def birth_department(department: str, birth: date) -> str:
    """The département a NIR carries for a person born in ``department`` on ``birth``: "20"
    for Corsica (2A or 2B) before the split, the département itself otherwise."""
    if department in ("2A", "2B", "20"):
        return "20" if birth < CORSICA_SPLIT else department
    return department


def nir(sex: int, birth: date, department: str, commune: int, rank: int) -> tuple[str, int]:
    """A NIR body and its key for a person born in metropolitan France (``department`` 01-95,
    2A, 2B; written "20" for Corsica before 1976) in ``commune`` (COG code 1-990) with birth
    register ``rank`` (1-999)."""
    if sex not in (1, 2):
        raise ValueError("sex is 1 (male) or 2 (female)")
    if department not in DEPARTMENTS:
        raise ValueError(f"unknown département {department!r}")
    department = birth_department(department, birth)
    if not (1 <= commune <= 990 and 1 <= rank <= 999):
        raise ValueError("commune is 1-990 and rank 1-999")
    body = f"{sex}{birth.year % 100:02d}{birth.month:02d}{department}{commune:03d}{rank:03d}"
    return body, nir_key(body)


def check_nir(
    value: str, *, sex: int | None = None, birth: date | None = None, department: str | None = None
) -> list[str]:
    """Problems with a 15-character NIR (body + key), and with its consistency with what is
    known of the person."""
    if len(value) != 15:
        return [f"a NIR has 15 characters (13 + key), not {len(value)}"]
    body, key = value[:13], value[13:]
    if not NIR_BODY.fullmatch(body):
        return [
            "NIR body: sex 1, 2, 3, 4, 7 or 8; year; month 01-12 or 20-99; département "
            "(2A/2B for Corsica since 1976); commune; rank"
        ]
    problems = []
    if not key.isdigit() or int(key) != nir_key(body):
        problems.append(f"NIR key is {key}, expected {nir_key(body):02d}")
    month = int(body[3:5])
    if sex is not None and int(body[0]) not in (sex, sex + 2, sex + 6):
        problems.append(f"NIR sex digit {body[0]} does not match sex {sex}")
    if birth is not None:
        if int(body[1:3]) != birth.year % 100:
            problems.append(f"NIR year {body[1:3]} does not match birth year {birth.year}")
        if 1 <= month <= 12 and month != birth.month:
            problems.append(f"NIR month {month:02d} does not match birth month {birth.month:02d}")
    if birth is not None and body[5:7] in ("2A", "2B", "20"):
        expected = birth_department(body[5:7], birth)
        if body[5:7] != expected:
            problems.append(
                f"NIR département {body[5:7]} for a birth in Corsica on {birth.isoformat()}: "
                f"{expected} (2A/2B since 1 January 1976)"
            )
    if department is not None and body[5:7] != birth_department(department, birth or date.max):
        problems.append(f"NIR département {body[5:7]} does not match {department}")
    return problems


def ps_number(department: str, category: int, order: int) -> str:
    """The 9-digit n° AM: département (2 digits; 2A/2B are written 20), catégorie, n° d'ordre
    (5 digits), Luhn key."""
    dept = "20" if department in ("2A", "2B") else department
    if not (len(dept) == 2 and dept.isdigit()) or category not in PS_CATEGORIES:
        raise ValueError("département is 2 digits and catégorie 0-9")
    if not 0 <= order <= 99_999:
        raise ValueError("n° d'ordre is 0-99999")
    body = f"{dept}{category}{order:05d}"
    return body + str(luhn_key(body))


def check_ps_number(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{9}", value):
        return [f"a n° AM has 9 digits, not {value!r}"]
    if not luhn_valid(value):
        return [f"n° AM key is {value[8]}, expected {luhn_key(value[:8])}"]
    return []


def ps_category(value: str) -> str:
    """The catégorie of a valid n° AM, as a word."""
    return PS_CATEGORIES[int(value[2])]


def finess(body8: str) -> str:
    if not re.fullmatch(r"[0-9]{8}", body8):
        raise ValueError("a FINESS body has 8 digits")
    return body8 + str(luhn_key(body8))


def check_finess(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{9}", value):
        return [f"a FINESS has 9 digits, not {value!r}"]
    return (
        [] if luhn_valid(value) else [f"FINESS key is {value[8]}, expected {luhn_key(value[:8])}"]
    )


def check_rpps(value: str) -> list[str]:
    """RPPS: 11 digits. No key is enforced (norms.md §7.3: the published rule is contradicted)."""
    return [] if re.fullmatch(r"[0-9]{11}", value) else [f"an RPPS has 11 digits, not {value!r}"]


def siren(body8: str) -> str:
    if not re.fullmatch(r"[0-9]{8}", body8):
        raise ValueError("a SIREN body has 8 digits")
    return body8 + str(luhn_key(body8))


def siret(siren9: str, establishment: int) -> str:
    """SIREN + NIC: 4 digits of establishment number and a key that makes the 14 digits pass
    Luhn."""
    if check_siren(siren9):
        raise ValueError(f"invalid SIREN {siren9!r}")
    if not 0 <= establishment <= 9999:
        raise ValueError("the establishment number is 0-9999")
    body = f"{siren9}{establishment:04d}"
    return body + str(luhn_key(body))


def check_siren(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{9}", value):
        return [f"a SIREN has 9 digits, not {value!r}"]
    return [] if luhn_valid(value) else [f"SIREN key is {value[8]}, expected {luhn_key(value[:8])}"]


def check_siret(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{14}", value):
        return [f"a SIRET has 14 digits, not {value!r}"]
    problems = [f"in the SIRET's SIREN: {p}" for p in check_siren(value[:9])]
    if not luhn_valid(value):
        problems.append(f"SIRET key is {value[13]}, expected {luhn_key(value[:13])}")
    return problems


def oc_number(body7: str) -> str:
    """An OC number (convention: 7 digits + Luhn key)."""
    if not re.fullmatch(r"[0-9]{7}", body7):
        raise ValueError("an OC number body has 7 digits")
    return body7 + str(luhn_key(body7))


def check_oc_number(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{8}", value):
        return [f"an OC number has 8 digits, not {value!r}"]
    return (
        []
        if luhn_valid(value)
        else [f"OC number key is {value[7]}, expected {luhn_key(value[:7])}"]
    )


def organisme(regime: int, caisse: int, centre: int = 0) -> str:
    """The 9-digit organisme destinataire: régime (2) + caisse (3) + centre (4)."""
    if not (0 <= regime <= 99 and 0 <= caisse <= 999 and 0 <= centre <= 9999):
        raise ValueError("régime 0-99, caisse 0-999, centre 0-9999")
    return f"{regime:02d}{caisse:03d}{centre:04d}"


def check_organisme(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{9}", value):
        return [f"an organisme has 9 digits (régime 2, caisse 3, centre 4), not {value!r}"]
    return [] if value[:2] != "00" else ["régime 00 does not exist"]
