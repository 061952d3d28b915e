"""Keyed pseudonyms of the personal data a run's files and journal carry (RGPD art. 4(5):
data that can no longer be tied to a person without additional information kept apart: here,
the key).

Each pseudonym is a function of the key and of the value alone, through HMAC-SHA-256, so the
same person gets the same pseudonym in every file and in every run exported with the same
key, and nobody without the key can recompute or reverse it. Pseudonyms keep the value's
format, so that an exported file still validates:

* a **NIR** keeps its first five digits (sex, year and month of birth, which the same records
  also carry as the birth date and sex) and gets a metropolitan département, commune and
  register rank drawn from the HMAC among those the identifier law allows
  (:func:`~noemie_sim.sim.norms.keys.nir_problems`); its key is recomputed by the caller's
  format (the key field follows the body);
* a **name** becomes a French surname or first name drawn from Faker's fr_FR lists, in the
  form of the exchange formats (capitals, no accents).

What this does not hide is said in docs/security.md ("Pseudonymised exports").
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from faker.providers.person.fr_FR import Provider as FrenchNames

from noemie_sim.sim.norms.keys import NIR_BODY, nir_problems

from .text import ascii_upper

#: bytes of a pseudonymisation key (HMAC-SHA-256's block of security)
KEY_BYTES = 32
_LAST_NAMES = tuple(sorted({ascii_upper(n) for n in FrenchNames.last_names}))
_FIRST_NAMES = tuple(
    sorted(
        {ascii_upper(n) for n in (*FrenchNames.first_names_male, *FrenchNames.first_names_female)}
    )
)
_DEPARTMENTS = tuple(f"{d:02d}" for d in range(1, 96) if d != 20)  # metropolitan, no Corsica


class Pseudonymiser:
    """Pseudonyms under one key (at least :data:`KEY_BYTES` bytes)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"a pseudonymisation key has at least {KEY_BYTES} bytes, "
                             f"this one {len(key)}")  # fmt: skip
        self._key = key
        self.nir = lru_cache(maxsize=1 << 16)(self._nir)
        self.last_name = lru_cache(maxsize=1 << 16)(self._last_name)
        self.first_name = lru_cache(maxsize=1 << 16)(self._first_name)

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (16 hex digits): exports made with the same key
        say the same id, so their pseudonyms can be joined."""
        return self._mac("key-id", "")[:8].hex()

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()

    def _nir(self, body: str) -> str:
        """The pseudonym of a 13-character NIR body; ValueError for what is not one."""
        if not NIR_BODY.fullmatch(body):
            raise ValueError(f"not a NIR body: {body!r}")
        for attempt in range(64):
            mac = self._mac("nir", f"{body}\0{attempt}")
            department = _DEPARTMENTS[int.from_bytes(mac[0:4]) % len(_DEPARTMENTS)]
            commune = 1 + int.from_bytes(mac[4:8]) % 990
            rank = 1 + int.from_bytes(mac[8:12]) % 999
            candidate = f"{body[:5]}{department}{commune:03d}{rank:03d}"
            if candidate != body and not nir_problems(candidate):
                return candidate
        # only a body whose first five digits no département accepts gets here
        raise ValueError(f"no pseudonym keeps the form of NIR {body[:5]}…")

    def _last_name(self, name: str) -> str:
        return self._name("last", name, _LAST_NAMES)

    def _first_name(self, name: str) -> str:
        return self._name("first", name, _FIRST_NAMES)

    def _name(self, purpose: str, name: str, choices: tuple[str, ...]) -> str:
        """A name for ``name`` (blank stays blank), no longer than it was allowed to be by
        its field: the caller cuts it to the field's length."""
        if not name.strip():
            return name
        mac = self._mac(purpose, ascii_upper(name))
        return choices[int.from_bytes(mac[:8]) % len(choices)]
