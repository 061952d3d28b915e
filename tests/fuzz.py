"""How hard the fuzzers push, by Hypothesis profile (``HYPOTHESIS_PROFILE``).

The README's test command runs the ``default`` profile, sized so that the whole suite fits in
about five minutes on two cores; CI then runs the property tests again under ``large``, the
full strength (10 000 inputs per parser); ``quick`` is for a fast local loop.
"""

from __future__ import annotations

import os

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
_SHARE = {"large": 1.0, "default": 0.2, "ci": 0.2, "quick": 0.05}


def examples(full: int) -> int:
    """How many inputs a fuzzer whose full strength is ``full`` runs in this profile."""
    return max(1, round(full * _SHARE.get(PROFILE, 0.2)))
