"""Text as the exchange formats carry it (upper-case printable ASCII, no accents, no "@"),
and the rounding of money."""

from __future__ import annotations

import unicodedata


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers: money is rounded to the nearest
    cent, halves up (Python's round() rounds halves to even: 1612.5 -> 1612)."""
    return (2 * numerator + denominator) // (2 * denominator)


def ascii_upper(text: str, limit: int | None = None) -> str:
    """``text`` without accents, in capitals, keeping printable ASCII except "@" (the NOEMIE
    delimiter), spaces collapsed, cut to ``limit`` characters without a trailing space."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if " " <= c <= "~" and c != "@").upper()
    collapsed = " ".join(kept.split())
    return (collapsed[:limit] if limit else collapsed).rstrip()
