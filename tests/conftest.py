"""Test configuration: Hypothesis profiles.

The default profile is what CI runs. ``HYPOTHESIS_PROFILE=quick`` cuts example counts for a fast
local loop; the fuzz tests' 10 000 examples per parser then become 500.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "quick", deadline=None, max_examples=50, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
