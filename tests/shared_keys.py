"""One pool of RSA keys for a whole test session, shared by the pytest-xdist workers.

A PKI's keys are most of its cost (about 20 keys/s/core), and each module used to make its
own: 834 keys over a session, when the largest PKI needs 184. The pool's lock
(:meth:`KeyPool.take`) makes each key once whichever worker asks first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noemie_sim.pki.authority import KeyPool


def session_pool(tmp_path_factory: pytest.TempPathFactory) -> KeyPool:
    """The session's pool: in the folder of the session itself, above each worker's own."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return KeyPool(root / "keys")


def cache_with_keys(cache: Path, pool: KeyPool) -> Path:
    """``cache``, the XDG_CACHE_HOME of a command a test runs, made to take its RSA keys from
    ``pool`` (the command takes them from ``<cache>/noemie-sim/keys``)."""
    keys = cache / "noemie-sim" / "keys"
    pool.folder.mkdir(parents=True, exist_ok=True)  # a link to nothing yet is no folder
    if not keys.is_symlink():
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.symlink_to(pool.folder, target_is_directory=True)
    return cache
