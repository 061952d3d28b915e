"""Interoperability with the openssl command line, an independent implementation.

openssl checks certificates with -attime (simulated time) and -purpose any: our end-entity
certificates carry the project's sealing EKU, not S/MIME's emailProtection.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from noemie_sim.pki.authority import Pki
from noemie_sim.pki.validation import TrustStore
from noemie_sim.scenarios.cli import main
from noemie_sim.sim.domain import codes
from noemie_sim.sim.norms import samples

from .pki_helpers import CPAM, PARTIES, PS, T0

AT = T0 + timedelta(days=1)


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=check
    )


def epoch(moment: object = AT) -> str:
    return str(int(moment.timestamp()))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("role", "ident"), PARTIES)
def test_openssl_verify_accepts_every_party(pki: Pki, role: str, ident: str) -> None:
    home = pki.folder / "parties" / ident
    done = openssl(
        "verify",
        "-attime",
        epoch(),
        "-CAfile",
        pki.folder / "root" / "cert.pem",
        "-untrusted",
        home / "chain.pem",
        home / "cert.pem",
    )
    assert done.stdout.strip().endswith(": OK")


def test_openssl_verify_with_crls_refuses_a_revoked_party(fresh_pki: Pki) -> None:
    folder = fresh_pki.folder
    when = T0 + timedelta(days=2)
    fresh_pki.revoke(PS, when)
    crls: list[str | Path] = [
        "-CRLfile",
        folder / "root" / "crl.pem",
        "-CRLfile",
        folder / "ca" / "ps" / "crl.pem",
    ]
    base: list[str | Path] = [
        "verify",
        "-crl_check_all",
        "-attime",
        epoch(when + timedelta(hours=1)),
        "-CAfile",
        folder / "root" / "cert.pem",
        *crls,
    ]
    home = folder / "parties" / PS
    refused = openssl(*base, "-untrusted", home / "chain.pem", home / "cert.pem", check=False)
    assert refused.returncode != 0 and "revoked" in (refused.stdout + refused.stderr)
    other = folder / "parties" / "751334327"
    accepted = openssl(*base, "-untrusted", other / "chain.pem", other / "cert.pem")
    assert accepted.stdout.strip().endswith(": OK")


def test_noemie_sealed_file_opens_with_openssl(pki: Pki, tmp_path: Path) -> None:
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    sealed = tmp_path / "lot.p7m"
    assert (
        main(
            [
                "seal",
                str(lot),
                "--pki",
                str(pki.folder),
                "--from",
                PS,
                "--to",
                CPAM,
                "--out",
                str(sealed),
                "--at",
                AT.isoformat(),
            ]
        )
        == 0
    )
    cpam = pki.folder / "parties" / CPAM
    inner = tmp_path / "inner.der"
    openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        sealed,
        "-recip",
        cpam / "cert.pem",
        "-inkey",
        cpam / "key.pem",
        "-out",
        inner,
    )
    clear = tmp_path / "clear.b2"
    done = openssl(
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        inner,
        "-binary",
        "-purpose",
        "any",
        "-attime",
        epoch(),
        "-CAfile",
        pki.folder / "root" / "cert.pem",
        "-out",
        clear,
    )
    assert "Verification successful" in done.stderr
    assert clear.read_bytes() == samples.b2_lot()
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", sealed).stdout
    assert "aes-256-gcm" in printed and "rsaesOaep" in printed


def _openssl_seal(pki: Pki, tmp_path: Path, *encrypt_options: str) -> Path:
    ps = pki.folder / "parties" / PS
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    signed = tmp_path / "signed.der"
    openssl(
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-in",
        lot,
        "-signer",
        ps / "cert.pem",
        "-inkey",
        ps / "key.pem",
        "-certfile",
        ps / "chain.pem",
        "-md",
        "sha256",
        "-outform",
        "DER",
        "-out",
        signed,
    )
    sealed = tmp_path / "sealed.der"
    openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-in",
        signed,
        "-outform",
        "DER",
        "-out",
        sealed,
        *encrypt_options,
    )
    return sealed


def test_openssl_sealed_file_opens_with_noemie_sim(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cpam_cert = str(pki.folder / "parties" / CPAM / "cert.pem")
    sealed = _openssl_seal(
        pki,
        tmp_path,
        "-aes-256-gcm",
        "-recip",
        cpam_cert,
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-keyopt",
        "rsa_oaep_md:sha256",
    )
    out = tmp_path / "out.b2"
    code = main(
        [
            "open",
            str(sealed),
            "--pki",
            str(pki.folder),
            "--as",
            CPAM,
            "--out",
            str(out),
            "--at",
            AT.isoformat(),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"sender {PS}\n" in printed and "legacy" not in printed
    assert out.read_bytes() == samples.b2_lot()


def test_openssl_default_envelope_is_opened_as_legacy(
    pki: Pki, trust: TrustStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """openssl's defaults: AES-256-CBC content, PKCS#1 v1.5 key transport."""
    sealed = _openssl_seal(
        pki, tmp_path, "-aes-256-cbc", str(pki.folder / "parties" / CPAM / "cert.pem")
    )
    out = tmp_path / "out.b2"
    code = main(
        [
            "open",
            str(sealed),
            "--pki",
            str(pki.folder),
            "--as",
            CPAM,
            "--out",
            str(out),
            "--at",
            AT.isoformat(),
        ]
    )
    assert code == 0
    assert "legacy envelope" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("made_as", "code", "arl_code"),
    [
        ("plain", "not-cms", "0002 006"),
        ("signed-only", "not-encrypted", "0002 008"),
        ("encrypted-only", "not-signed", "0002 007"),
        ("for-someone-else", "wrong-recipient", "0002 005"),
        ("bad-signature", "tampered", "0002 002"),
    ],
)
def test_each_way_a_file_is_not_sealed_gets_its_own_reason(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str], made_as: str, code: str,
    arl_code: str,
) -> None:  # fmt: skip
    """Files made by openssl (an independent peer) the ways a vendor gets sealing wrong: each
    refusal names what happened, and maps to its own ARL anomaly code."""
    lot = tmp_path / "lot.b2"
    lot.write_bytes(samples.b2_lot())
    home = pki.folder / "parties" / PS
    cpam_cert = pki.folder / "parties" / CPAM / "cert.pem"
    signed, sealed = tmp_path / "signed.der", tmp_path / "sealed.der"
    openssl("cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-in", lot, "-signer",
            home / "cert.pem", "-inkey", home / "key.pem", "-outform", "DER",
            "-out", signed)  # fmt: skip

    def encrypt(recipient: Path, content: Path) -> None:
        openssl("cms", "-encrypt", "-binary", "-aes-256-gcm", "-recip", recipient, "-keyopt",
                "rsa_padding_mode:oaep", "-in", content, "-outform", "DER",
                "-out", sealed)  # fmt: skip

    if made_as == "plain":
        sealed = lot
    elif made_as == "signed-only":
        sealed = signed
    elif made_as == "encrypted-only":
        encrypt(cpam_cert, lot)
    elif made_as == "for-someone-else":
        encrypt(home / "cert.pem", signed)
    else:  # one byte of the signed content changed, then encrypted properly
        data = bytearray(signed.read_bytes())
        at = bytes(data).index(samples.b2_lot()[:40]) + 5
        data[at] ^= 1
        signed.write_bytes(bytes(data))
        encrypt(cpam_cert, signed)
    out = tmp_path / "out.b2"
    assert main(["open", str(sealed), "--pki", str(pki.folder), "--as", CPAM, "--out", str(out),
                 "--at", AT.isoformat()]) == 1  # fmt: skip
    printed = capsys.readouterr().out
    assert f"refused: {code}:" in printed, printed
    assert codes.arl_for_seal_error(code).code == arl_code
    assert not out.exists()
