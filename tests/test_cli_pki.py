"""noemie-sim pki, seal and open from the command line: outputs and exit codes."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.scenarios.cli import main
from noemie_sim.sim.domain import identifiers as ids
from noemie_sim.sim.norms import samples

from .pki_helpers import CPAM, OC, PS, T0

AT = "2026-03-03T09:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_generates_valid_parties_of_every_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pki"
    code, out, _ = run(
        capsys,
        "pki",
        "init",
        str(folder),
        "--ps",
        "3",
        "--cpam",
        "2",
        "--oc",
        "2",
        "--employer",
        "2",
        "--at",
        "2026-03-02T08:00",
    )
    assert code == 0 and "9 parties" in out
    checks = {
        "ps": ids.check_ps_number,
        "cpam": ids.check_organisme,
        "oc": ids.check_oc_number,
        "employer": ids.check_siret,
    }
    parties = Pki(folder).parties()
    assert sorted(parties.values()) == ["cpam"] * 2 + ["employer"] * 2 + ["oc"] * 2 + ["ps"] * 3
    for ident, role in parties.items():
        assert checks[role](ident) == [], ident
        key = folder / "parties" / ident / "key.pem"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    code, _, err = run(capsys, "pki", "init", str(folder))
    assert code == 2 and "already holds a PKI" in err


def test_issue_checks_the_identifier(fresh_pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "pki", "issue", str(fresh_pki.folder), "ps", "991086266", "--at", AT)
    assert code == 2 and "bad n° AM key (Luhn): 991086266, expected 991086265" in err
    code, out, _ = run(capsys, "pki", "issue", str(fresh_pki.folder), "ps", "991023763", "--at", AT)
    assert code == 0 and "issued 991023763 (ps)" in out


def test_revoke_then_show_and_open_refuse(
    fresh_pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(fresh_pki.folder)
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    sealed = tmp_path / "lot.p7m"
    assert (
        run(
            capsys,
            "seal",
            str(lot),
            "--pki",
            folder,
            "--from",
            PS,
            "--to",
            CPAM,
            "--out",
            str(sealed),
            "--at",
            AT,
        )[0]
        == 0
    )
    assert run(capsys, "pki", "revoke", folder, PS, "--at", "2026-03-04T10:00")[0] == 0
    code, out, _ = run(capsys, "pki", "show", folder, PS, "--at", "2026-03-04T11:00")
    assert code == 0 and "REFUSED (revoked" in out
    code, out, _ = run(
        capsys,
        "open",
        str(sealed),
        "--pki",
        folder,
        "--as",
        CPAM,
        "--out",
        str(tmp_path / "x"),
        "--at",
        "2026-03-04T11:00",
    )
    assert code == 1 and "refused: revoked" in out
    code, out, _ = run(
        capsys,
        "open",
        str(sealed),
        "--pki",
        folder,
        "--as",
        CPAM,
        "--out",
        str(tmp_path / "x"),
        "--at",
        "2026-03-04T09:00",
    )
    assert code == 0 and f"sender {PS}" in out


def test_seal_refuses_a_file_declaring_other_parties(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    code, out, _ = run(
        capsys,
        "seal",
        str(lot),
        "--pki",
        str(pki.folder),
        "--from",
        PS,
        "--to",
        OC,
        "--out",
        str(tmp_path / "x"),
        "--at",
        AT,
    )
    assert code == 1 and "declares sender 751108622 and recipient 017510000" in out
    raw = tmp_path / "notes.txt"
    raw.write_bytes(b"hello")
    code, out, _ = run(
        capsys,
        "seal",
        str(raw),
        "--pki",
        str(pki.folder),
        "--from",
        PS,
        "--to",
        OC,
        "--out",
        str(tmp_path / "y"),
        "--at",
        AT,
    )
    assert code == 1 and "--raw" in out
    assert (
        run(
            capsys,
            "seal",
            str(raw),
            "--pki",
            str(pki.folder),
            "--from",
            PS,
            "--to",
            OC,
            "--out",
            str(tmp_path / "y"),
            "--at",
            AT,
            "--raw",
        )[0]
        == 0
    )
    code, out, _ = run(
        capsys,
        "open",
        str(tmp_path / "y"),
        "--pki",
        str(pki.folder),
        "--as",
        OC,
        "--out",
        str(tmp_path / "z"),
        "--at",
        AT,
        "--raw",
    )
    assert code == 0 and (tmp_path / "z").read_bytes() == b"hello"


def test_open_garbage_and_usage_errors(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not cms at all")
    code, out, _ = run(
        capsys,
        "open",
        str(junk),
        "--pki",
        str(pki.folder),
        "--as",
        CPAM,
        "--out",
        str(tmp_path / "x"),
        "--at",
        AT,
    )
    assert code == 1 and "refused: not-cms" in out  # a plain file, said as such
    code, _, err = run(
        capsys,
        "open",
        str(junk),
        "--pki",
        str(tmp_path),
        "--as",
        CPAM,
        "--out",
        str(tmp_path / "x"),
    )
    assert code == 2 and "not a PKI folder" in err
    code, _, err = run(capsys, "pki", "show", str(pki.folder), "--at", "yesterday")
    assert code == 2 and "--at: 'yesterday' is not a date" in err
    code, out, _ = run(capsys, "pki", "show", str(pki.folder), "--at", "2026-03-03")
    assert code == 0 and out.count(" valid") == 5
    assert run(capsys, "pki", "crl", str(pki.folder), "--at", T0.isoformat())[0] == 0


def test_seal_refuses_a_sender_whose_certificate_is_refused(
    fresh_pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A revoked party cannot seal, even with its key at hand (fail closed)."""
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    fresh_pki.revoke(PS, T0 + timedelta(hours=1))
    later = (T0 + timedelta(hours=2)).isoformat()
    code, out, _ = run(capsys, "seal", str(lot), "--pki", str(fresh_pki.folder), "--from", PS,
                       "--to", CPAM, "--out", str(tmp_path / "x.p7m"), "--at", later)  # fmt: skip
    assert code == 1 and f"cannot seal as {PS}" in out and "revoked" in out
    assert not (tmp_path / "x.p7m").exists()
    before = (T0 + timedelta(minutes=30)).isoformat()
    code, _, _ = run(capsys, "seal", str(lot), "--pki", str(fresh_pki.folder), "--from", PS,
                     "--to", CPAM, "--out", str(tmp_path / "y.p7m"), "--at", before)  # fmt: skip
    assert code == 0
