"""Seeded randomness: one seed per run, one generator per actor derived from it.

An actor's generator depends only on the run's seed and the actor's name, never on the order
in which actors are created or on how many draws the others made: adding a practitioner to a
network does not change what the other practitioners do.
"""

from __future__ import annotations

import hashlib
import random

from faker import Faker


def derived_seed(seed: int, name: str) -> int:
    """A 64-bit seed for ``name`` within the run of ``seed`` (SHA-256 of both)."""
    digest = hashlib.sha256(f"noemie-sim|{seed}|{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def generator(seed: int, name: str) -> random.Random:
    """The generator of ``name`` (an actor, a fault plan...) in the run of ``seed``."""
    return random.Random(derived_seed(seed, name))


def faker(seed: int, name: str) -> Faker:
    """A French Faker seeded for ``name`` in the run of ``seed``."""
    fake = Faker("fr_FR")
    fake.seed_instance(derived_seed(seed, name))
    return fake
