"""Test configuration: Hypothesis profiles and the shared PKI fixtures.

Profiles (``HYPOTHESIS_PROFILE``, see tests/fuzz.py): ``default`` for the README's test
command (the format fuzzers run 2 000 inputs per parser), ``large`` for CI's second pass over
the property tests (10 000 per parser), ``quick`` for a fast local loop (500).
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.pki.validation import TrustStore
from noemie_sim.sim.norms import pack as norms_pack

from .fuzz import PROFILE
from .pki_helpers import PARTIES, T0
from .shared_keys import session_pool

for _name in ("default", "large", "ci"):  # "ci": the former name of the default
    settings.register_profile(
        _name, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
settings.register_profile(
    "quick", deadline=None, max_examples=50, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(PROFILE)


@pytest.fixture(autouse=True)
def built_in_norms() -> Iterator[None]:
    """Every test starts and ends speaking the built-in tables: a test that installs a norms
    pack (a command run with --norms) cannot change what the next one in its worker speaks."""
    norms_pack.install(norms_pack.BUILTIN)
    yield
    norms_pack.install(norms_pack.BUILTIN)


@pytest.fixture(scope="session")
def key_pool(tmp_path_factory: pytest.TempPathFactory) -> KeyPool:
    """The RSA keys of every PKI a test makes, one pool for the session (tests/shared_keys.py)."""
    return session_pool(tmp_path_factory)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A PKI created at T0 with two PS, a CPAM, an OC and an employer. Tests must not revoke in
    it: they use :func:`fresh_pki` for that."""
    folder: Path = tmp_path_factory.mktemp("pki") / "pki"
    created = Pki.create(folder, T0)
    created.issue_many(PARTIES, T0)
    return created


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    return TrustStore.load(pki)


@pytest.fixture
def fresh_pki(tmp_path: Path, pki: Pki) -> Pki:
    """A private copy of the session PKI, free to revoke in."""
    folder = tmp_path / "pki"
    shutil.copytree(pki.folder, folder)
    return Pki(folder)
