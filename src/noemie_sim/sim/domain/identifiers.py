"""Identifiers of the network: build valid ones, and say what is wrong with a bad one.

Facts from norms.md §7: NIR (13 characters + key 97 - N mod 97, Corsica 2A/2B), n° AM of a PS
(département 2 + catégorie 1 + ordre 5 + Luhn key), FINESS (8 digits + Luhn), RPPS (11 digits,
no key enforced: the Luhn claim is contradicted by ANS examples), SIREN (8 + Luhn) and SIRET
(SIREN + NIC 4 + Luhn over 14), organisme (régime 2 + caisse 3 + centre 4).

Convention of noemie-sim: an OC number is 7 digits + a Luhn key (FNMF annexe 102 lists the
"type 1-2" key for mutuelles; the exact rule for OC numbers is not public).

The rules themselves are the identifier law of :mod:`noemie_sim.sim.norms.keys`, which the
validators apply too: this module builds identifiers that obey it (a NIR for a birth in
metropolitan France, overseas or abroad, with a pseudo-month when the civil status is
incomplete) and phrases what it refuses. Every ``check_*`` function returns the list of
problems, empty when the identifier is valid.
"""

from __future__ import annotations

import re
from datetime import date

from noemie_sim.sim.norms import keys
from noemie_sim.sim.norms.keys import NIR_BODY, luhn_key

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
#: Overseas départements of birth, written with three digits in a NIR (the commune with two):
#: Guadeloupe, Martinique, Guyane, La Réunion, Mayotte (norms.md §7.1; INSEE COG).
OVERSEAS = ("971", "972", "973", "974", "976")
#: Born abroad: département 99 and the country's INSEE code (its last three digits) in the
#: commune's place: Allemagne, Belgique, Espagne, Italie, Portugal, Royaume-Uni, Maroc,
#: Algérie, Tunisie, Sénégal, Turquie, Viêt Nam (INSEE COG, codes 99xxx).
ABROAD = "99"
COUNTRIES = (109, 131, 134, 127, 139, 132, 350, 352, 351, 341, 208, 243)
#: Corsica's split (loi 75-356): from keys.py, the one law.
CORSICA_SPLIT = keys.CORSICA_SPLIT


def birth_department(department: str, birth: date) -> str:
    """The département a NIR carries for a person born in ``department`` on ``birth``: "20"
    for Corsica (2A or 2B) before the split, the département itself otherwise."""
    if department in ("2A", "2B", "20"):
        return "20" if birth < CORSICA_SPLIT else department
    return department


def nir(
    sex: int,
    birth: date,
    department: str,
    commune: int,
    rank: int,
    *,
    pseudo_month: int | None = None,
) -> tuple[str, int]:
    """A NIR body and its key for a person born on ``birth`` in ``department``: metropolitan
    (01-95, 2A, 2B, written "20" for Corsica before 1976) with ``commune`` its COG code
    (1-990); overseas (:data:`OVERSEAS`) with ``commune`` 1-99; or abroad (:data:`ABROAD`)
    with ``commune`` the country's code (:data:`COUNTRIES`). ``rank`` is the birth register's
    number (1-999); ``pseudo_month`` (20-42, 50-99) replaces the month for a person registered
    from an incomplete civil status. ValueError for anything the identifier law refuses."""
    if sex not in (1, 2):
        raise ValueError("sex is 1 (male) or 2 (female)")
    if department in OVERSEAS:
        place = f"{department}{commune:02d}" if 1 <= commune <= 99 else ""
    elif department == ABROAD:
        place = f"99{commune:03d}" if commune in COUNTRIES else ""
    elif department in DEPARTMENTS:
        place = f"{birth_department(department, birth)}{commune:03d}" if 1 <= commune <= 990 else ""
    else:
        raise ValueError(f"unknown département {department!r}")
    if not place:
        raise ValueError(f"no commune {commune} in département {department}")
    if not 1 <= rank <= 999:
        raise ValueError("rank is 1-999")
    month = birth.month if pseudo_month is None else pseudo_month
    body = f"{sex}{birth.year % 100:02d}{month:02d}{place}{rank:03d}"
    problems = keys.nir_problems(body, birth)
    if problems:
        raise ValueError(f"{body}: {problems[0].message} (found {problems[0].found})")
    return body, keys.nir_key(body)


def check_nir(
    value: str, *, sex: int | None = None, birth: date | None = None, department: str | None = None
) -> list[str]:
    """Problems with a 15-character NIR (body + key) by the identifier law
    (:func:`noemie_sim.sim.norms.keys.nir_problems`), and with its consistency with what is
    known of the person (sex, birth date, metropolitan département of birth)."""
    if len(value) != 15:
        return [f"a NIR has 15 characters (13 + key), not {len(value)}"]
    body, key = value[:13], value[13:]
    if not NIR_BODY.fullmatch(body):
        return [
            "NIR body: sex 1, 2, 3, 4, 7 or 8; year; month 01-12 or 20-99; département "
            "(2A/2B for Corsica since 1976); commune; rank"
        ]
    problems = []
    if not key.isdigit() or int(key) != keys.nir_key(body):
        problems.append(f"NIR key is {key}, expected {keys.nir_key(body):02d}")
    if sex is not None and int(body[0]) not in (sex, sex + 2, sex + 6):
        problems.append(f"NIR sex digit {body[0]} does not match sex {sex}")
    problems.extend(f"{p.message}: {p.found}, expected {p.expected}"
                    for p in keys.nir_problems(body, birth))  # fmt: skip
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


def _said(kind: str, value: str) -> list[str]:
    """The identifier law's problems with a number, as sentences."""
    return [f"{p.message}: {p.found}, expected {p.expected}"
            for p in keys.number_problems(kind, value)]  # fmt: skip


def check_ps_number(value: str) -> list[str]:
    return _said("n° AM", value)


def ps_category(value: str) -> str:
    """The catégorie of a valid n° AM, as a word."""
    return PS_CATEGORIES[int(value[2])]


def finess(body8: str) -> str:
    if not re.fullmatch(r"[0-9]{8}", body8):
        raise ValueError("a FINESS body has 8 digits")
    return body8 + str(luhn_key(body8))


def check_finess(value: str) -> list[str]:
    return _said("FINESS", value)


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
    return _said("SIREN", value)


def check_siret(value: str) -> list[str]:
    return _said("SIRET", value)


def oc_number(body7: str) -> str:
    """An OC number (convention: 7 digits + Luhn key)."""
    if not re.fullmatch(r"[0-9]{7}", body7):
        raise ValueError("an OC number body has 7 digits")
    return body7 + str(luhn_key(body7))


def check_oc_number(value: str) -> list[str]:
    return _said("OC number", value)


def organisme(regime: int, caisse: int, centre: int = 0) -> str:
    """The 9-digit organisme destinataire: régime (2) + caisse (3) + centre (4)."""
    if not (0 <= regime <= 99 and 0 <= caisse <= 999 and 0 <= centre <= 9999):
        raise ValueError("régime 0-99, caisse 0-999, centre 0-9999")
    return f"{regime:02d}{caisse:03d}{centre:04d}"


def check_organisme(value: str) -> list[str]:
    if not re.fullmatch(r"[0-9]{9}", value):
        return [f"an organisme has 9 digits (régime 2, caisse 3, centre 4), not {value!r}"]
    return [] if value[:2] != "00" else ["régime 00 does not exist"]
