"""Forging a run's verification with everything its folder holds: the test PKI's root key,
the code's own chain formula, a harness key of one's own. The trust root lives outside the
folder (this machine's harness), so each forgery is caught: an edit re-hashed and re-signed,
the same with the run's end and manifest removed (no longer mistaken for a killed run), a cut
of 200 events, an archived file rewritten, the PKI replaced."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from noemie_sim.pki import attest
from noemie_sim.pki.authority import Pki
from noemie_sim.pki.errors import PkiError
from noemie_sim.scenarios.cli import main
from noemie_sim.sim.journal import (
    CHECKPOINTS,
    MANIFEST,
    _canonical,
    chain_hash,
    check_run,
    checkpoint_body,
)

from .pki_helpers import T0
from .test_verdict import _edit_and_rehash


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("forgery") / "run"
    assert main(["run", "demo", "--out", str(run)]) == 0
    return run


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _forger() -> attest.Harness:
    """A harness of the forger's own, as the folder's PKI root could have certified before:
    any key the forger holds."""
    key = ed25519.Ed25519PrivateKey.generate()
    return attest.Harness(key, attest._certificate(key), "forger")


def _rehash(path: Path, *, edit: int | None = None, keep: int | None = None) -> None:
    """Edit event ``edit``'s details and/or keep only the first ``keep`` events, then
    recompute every hash, and re-sign every checkpoint with the forger's key."""
    forger = _forger()
    db = sqlite3.connect(path)
    if keep is not None:
        db.execute("DELETE FROM events WHERE seq > ?", (keep,))
    genesis = db.execute("SELECT value FROM run WHERE key = 'genesis'").fetchone()[0]
    previous = genesis
    rows = db.execute(
        "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details, evidence "
        "FROM events ORDER BY seq"
    ).fetchall()
    for row in rows:
        details = json.loads(row[9])
        if row[0] == edit:
            details["amo"] = 1  # the money changed
            db.execute("UPDATE events SET details = ? WHERE seq = ?", (_canonical(details), edit))
        if row[3] == "checkpoint":  # re-signed: the forger's signature over the new chain
            evidence = json.loads(row[10])
            body = checkpoint_body(genesis, details["events"], previous, evidence["files"])
            evidence["seal"] = attest.sign(forger, _canonical(body).encode())
            db.execute("UPDATE events SET evidence = ? WHERE seq = ?",
                       (json.dumps(evidence), row[0]))  # fmt: skip
        previous = chain_hash(previous, [*row[:9], details])
        db.execute("UPDATE events SET hash = ? WHERE seq = ?", (previous, row[0]))
    db.commit()
    count = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    manifest_path = path.parent / MANIFEST
    if manifest_path.exists():  # re-signed too, with the new count and digest
        manifest = json.loads(manifest_path.read_text())
        manifest["events"], manifest["digest"] = count, previous
        body = {k: manifest[k] for k in ("format", "genesis", "events", "digest", "ended_at",
                                         "rows_sha256", "files", "files_sha256")}  # fmt: skip
        manifest["seal"] = attest.sign(forger, _canonical(body).encode())
        manifest_path.write_text(json.dumps(manifest))


def _paid_event(run: Path) -> int:
    db = sqlite3.connect(run / "journal.sqlite")
    seq = int(
        db.execute("SELECT min(seq) FROM events WHERE kind = 'invoice-liquidated'").fetchone()[0]
    )
    db.close()
    return seq


def test_an_edit_re_hashed_and_re_signed_is_tampered(finished: Path, tmp_path: Path) -> None:
    forged = _copy(finished, tmp_path / "forged")
    seq = _paid_event(forged)
    _rehash(forged / "journal.sqlite", edit=seq)
    check = check_run(forged)
    assert check.state == "tampered", check
    assert "signed by another harness" in check.problems[0]
    # even trusting the PKI root the folder carries: that is no harness
    assert main(["verify", str(forged), "--root", str(forged / "pki/root/cert.pem")]) == 1


def test_an_edit_with_its_end_removed_is_not_a_killed_run(finished: Path, tmp_path: Path) -> None:
    forged = _copy(finished, tmp_path / "forged")
    seq = _paid_event(forged)
    db = sqlite3.connect(forged / "journal.sqlite")
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    db.close()
    _rehash(forged / "journal.sqlite", edit=seq, keep=last - 1)  # run-ended removed
    (forged / MANIFEST).unlink()
    (forged / CHECKPOINTS).unlink()  # and what could tell a cut
    check = check_run(forged)
    assert check.state == "tampered", check
    # with the forger's key left out too (the checkpoints still signed by this machine's)
    plain = _copy(finished, tmp_path / "plain")
    _edit_and_rehash(plain / "journal.sqlite", seq)  # the checkpoints left as signed
    (plain / MANIFEST).unlink()
    edited = check_run(plain)
    assert edited.state == "tampered" and f"event {seq} " in edited.problems[0], edited
    assert main(["verify", str(plain)]) == 1  # not 3: this is no killed run


def test_a_cut_of_200_events_is_tampered(finished: Path, tmp_path: Path) -> None:
    cut = _copy(finished, tmp_path / "cut")
    db = sqlite3.connect(cut / "journal.sqlite")
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    db.execute("DELETE FROM events WHERE seq > ?", (last - 200,))
    db.commit()
    db.close()
    (cut / MANIFEST).unlink()
    check = check_run(cut)
    assert check.state == "tampered", check
    assert f"ends at event {last - 200}" in check.problems[0] and "cut" in check.problems[0]


def test_an_archived_file_rewritten_is_tampered(finished: Path, tmp_path: Path) -> None:
    changed = _copy(finished, tmp_path / "changed")
    clear = sorted((changed / "files").glob("*/*-NOE-*.clear"))[0]
    clear.write_bytes(clear.read_bytes().replace(b"0", b"9", 1))
    check = check_run(changed)
    assert check.state == "tampered"
    assert any(str(clear.relative_to(changed)) in p for p in check.problems), check.problems
    assert main(["verify", str(changed)]) == 1


def test_the_pki_replaced_changes_nothing(finished: Path, tmp_path: Path) -> None:
    swapped = _copy(finished, tmp_path / "swapped")
    shutil.rmtree(swapped / "pki")
    Pki.create(swapped / "pki", T0)
    assert check_run(swapped).complete  # the PKI plays no part in the verdict
    _rehash(swapped / "journal.sqlite", edit=_paid_event(swapped))
    assert check_run(swapped).state == "tampered"


def test_a_forged_signature_names_nothing_trusted() -> None:
    mine, other = _forger(), _forger()
    seal = attest.sign(other, b"manifest")
    with pytest.raises(attest.OtherHarness):
        attest.verify(seal, b"manifest", mine.cert)
    seal["certificate"] = mine.certificate_pem()  # claiming to be the trusted one
    with pytest.raises(PkiError, match="what was signed was changed"):
        attest.verify(seal, b"manifest", mine.cert)
    seal["signature"] = base64.b64encode(b"\0" * 64).decode()
    with pytest.raises(PkiError):
        attest.verify(seal, b"manifest", mine.cert)
